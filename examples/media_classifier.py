"""Rich events: a tiny classifier's sample images, weight histograms, ROC curve and confusion matrix in Polyaxon.

    POLYAXON_HOST=http://127.0.0.1:31833 python examples/media_classifier.py [--project media-demo]

Logistic regression in numpy on 8x8 "images" of two classes (a bright top half or a bright bottom
half, plus noise). Needs numpy and pillow (``pip install "polyaxon-integrations[media]"``); prints the
run's dashboard of every rich event it logged.
"""

from __future__ import annotations

import argparse

import numpy as np

from polyaxon_integrations import tracking


def make_data(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    labels = rng.integers(0, 2, n)
    images = rng.random((n, 8, 8)) * 0.9
    images[labels == 0, :4] += 0.1  # class 0: a little brighter on top
    images[labels == 1, 4:] += 0.1  # class 1: a little brighter below
    return images.astype(np.float32), labels


def roc(scores: np.ndarray, labels: np.ndarray) -> tuple[list[float], list[float], float]:
    order = np.argsort(-scores)
    hits = labels[order] == 1
    tpr = np.concatenate([[0.0], np.cumsum(hits) / max(1, hits.sum())])
    fpr = np.concatenate([[0.0], np.cumsum(~hits) / max(1, (~hits).sum())])
    return fpr.tolist(), tpr.tolist(), float(np.trapezoid(tpr, fpr))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--project", default="media-demo")
    parser.add_argument("--epochs", type=int, default=30)
    options = parser.parse_args()
    rng = np.random.default_rng(0)
    x_train, y_train = make_data(256, rng)
    x_test, y_test = make_data(128, rng)
    run = tracking.init(project=options.project, name="tiny-classifier", tags=["demo", "media"])
    assert run is not None
    lr = 0.5
    run.log_inputs(lr=lr, epochs=options.epochs, model="logistic-regression")
    run.log_image(x_train[:16, None], name="samples", step=0, dataformats="NCHW", rescale=8)  # a grid of 16
    w, b = np.zeros(64), 0.0
    flat_train, flat_test = x_train.reshape(len(x_train), -1), x_test.reshape(len(x_test), -1)
    for epoch in range(options.epochs):
        p = 1 / (1 + np.exp(-(flat_train @ w + b)))
        loss = float(-np.mean(y_train * np.log(p + 1e-9) + (1 - y_train) * np.log(1 - p + 1e-9)))
        w -= lr * flat_train.T @ (p - y_train) / len(p)
        b -= lr * float(np.mean(p - y_train))
        run.log_metrics(step=epoch, loss=loss)
        if epoch % 10 == 0 or epoch == options.epochs - 1:
            run.log_histogram("weights", w, bins=20, step=epoch)
            picture = (w.reshape(8, 8) - w.min()) / (np.ptp(w) or 1)
            run.log_image(picture, name="weights", step=epoch, dataformats="HW", rescale=16)
    scores = 1 / (1 + np.exp(-(flat_test @ w + b)))
    predicted = (scores > 0.5).astype(int)
    confusion = [[int(np.sum((y_test == t) & (predicted == q))) for q in (0, 1)] for t in (0, 1)]
    step = options.epochs - 1
    run.log_confusion_matrix("confusion", ["top", "bottom"], ["top", "bottom"], confusion, step=step)
    fpr, tpr, auc = roc(scores, y_test)
    run.log_roc_auc_curve("roc", fpr, tpr, auc=round(auc, 4), step=step)
    accuracy = float(np.mean(predicted == y_test))
    run.log_html("report", f"<h3>Test accuracy {accuracy:.1%}</h3><p>AUC {auc:.3f}</p>", step=step)
    run.log_outputs(accuracy=accuracy, auc=round(auc, 4))
    link = run.events_dashboard_url()
    run.end()
    print(f"run {run.run_uuid} ({run.name}): status={run.status}, accuracy={accuracy:.3f}, confusion={confusion}")
    print(f"  UI:      {run.url}")
    print(f"  curves:  {run.dashboard_url()}")
    print(f"  media:   {link}")


if __name__ == "__main__":
    main()
