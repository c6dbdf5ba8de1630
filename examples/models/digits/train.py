"""Train the `digits` example model (small CNN on scikit-learn's bundled 8x8 digits) and export it.

Run from the repository root:  /usr/bin/python3 examples/models/digits/train.py
The data ships inside scikit-learn (load_digits, no download). Rewrites:
  examples/models/digits/preprocessing.json   raw pixels 0..16 -> image FP32[batch,1,8,8] in [0,1]
  examples/models/digits/1/model.onnx         image -> probabilities FP32[batch,10]
  examples/models/digits/model-card.json      metrics, FLOPs, versions
  examples/data/digits/test-images.f32        held-out 20%, already scaled (+ test-labels.u8, test-images.json)
  examples/requests/digits.json               Open Inference Protocol request, 1 test image
  examples/requests/digits.expected.json      torch outputs for that request
The model is deliberately heavier than the task needs (about 1.9 M multiply-adds per image) so
that dynamic batching has something to win. berth.yaml beside this script is hand-written.
"""

import platform
import sys
from pathlib import Path

import numpy as np
import onnx
import sklearn
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

EXAMPLES = Path(__file__).resolve().parents[2]
sys.dont_write_bytecode = True  # keep __pycache__ out of examples/pylib
sys.path.insert(0, str(EXAMPLES / "pylib"))
from berth_examples import f32_json, sha256_file, with_spec_hash, write_bytes, write_json  # noqa: E402

MODEL_DIR = EXAMPLES / "models" / "digits"
DATA_DIR = EXAMPLES / "data" / "digits"
REQUESTS_DIR = EXAMPLES / "requests"

SEED = 20240601
SPLIT_SEED = 0
TEST_FRACTION = 0.2
EPOCHS = 30
BATCH_SIZE = 64
LEARNING_RATE = 1e-3
OPSET = 17
PIXEL_MAX = 16.0


class DigitsCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(),
        )
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(64 * 4 * 4, 128), nn.ReLU(), nn.Linear(128, 10))

    def forward(self, image):
        return self.classifier(self.features(image))


class ServingHead(nn.Module):
    def __init__(self, cnn):
        super().__init__()
        self.cnn = cnn

    def forward(self, image):
        return torch.softmax(self.cnn(image), dim=1)


def multiply_adds():
    """Multiply-adds per image, counted by hand from the layer shapes above."""
    conv1 = 8 * 8 * 32 * (1 * 9)
    conv2 = 8 * 8 * 64 * (32 * 9)
    conv3 = 4 * 4 * 64 * (64 * 9)
    fc = 1024 * 128 + 128 * 10
    return conv1 + conv2 + conv3 + fc


def build_spec():
    spec = {
        "schemaVersion": 1,
        "kind": "image",
        "model": "digits",
        "version": "1",
        "description": "Turns one scikit-learn 8x8 digit (64 integer intensities 0..16, as in "
                       "load_digits().data) into the 'image' input of the digits model.",
        "source": {
            "dataset": "sklearn.datasets.load_digits (UCI Optical Recognition of Handwritten Digits test set)",
            "values": "64 integers in [0, 16], row-major: index r*8 + c is row r (top to bottom), column c (left to right)",
        },
        "image": {
            "height": 8, "width": 8, "channels": 1,
            "encode": "float32(x / 16) for every pixel; results lie in [0, 1] and are exact in float32",
            "scale": 1 / PIXEL_MAX,
            "range": [0, PIXEL_MAX],
            "invalid": "a record without exactly 64 finite values, or with a value outside [0, 16], is an error",
        },
        "output": {
            "name": "image", "datatype": "FP32", "shape": [-1, 1, 8, 8],
            "layout": "NCHW row-major; the 64 scaled pixels of one record are contiguous in source order",
        },
        "label": {
            "classes": [str(i) for i in range(10)],
            "modelOutputs": "probabilities[:, k] is P(digit == k); softmax over the 10 classes",
        },
    }
    return with_spec_hash(spec)


def train(x, y):
    torch.manual_seed(SEED)
    model = DigitsCNN()
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    loss_fn = nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(SEED)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))
    for epoch in range(EPOCHS):
        model.train()
        order = torch.randperm(len(xt), generator=generator)
        total = 0.0
        for start in range(0, len(xt), BATCH_SIZE):
            idx = order[start:start + BATCH_SIZE]
            optimizer.zero_grad()
            loss = loss_fn(model(xt[idx]), yt[idx])
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
        print(f"epoch {epoch + 1:2d}  loss {total / len(xt):.4f}")
    model.eval()
    return model


def predict(head, x):
    with torch.no_grad():
        return head(torch.from_numpy(x)).numpy()


def main():
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)

    spec = build_spec()
    write_json(MODEL_DIR / "preprocessing.json", spec)

    digits = load_digits()
    raw_train, raw_test, y_train, y_test = train_test_split(
        digits.data, digits.target, test_size=TEST_FRACTION, random_state=SPLIT_SEED, stratify=digits.target)
    x_train = (raw_train / PIXEL_MAX).astype(np.float32).reshape(-1, 1, 8, 8)
    x_test = (raw_test / PIXEL_MAX).astype(np.float32).reshape(-1, 1, 8, 8)
    y_train, y_test = y_train.astype(np.uint8), y_test.astype(np.uint8)
    print(f"train {x_train.shape}  test {x_test.shape}")

    head = ServingHead(train(x_train, y_train)).eval()
    train_pred = predict(head, x_train).argmax(axis=1)
    test_pred = predict(head, x_test).argmax(axis=1)
    train_correct, test_correct = int((train_pred == y_train).sum()), int((test_pred == y_test).sum())
    train_acc, test_acc = train_correct / len(y_train), test_correct / len(y_test)
    print(f"train accuracy {train_acc:.4f}  test accuracy {test_acc:.4f} ({test_correct}/{len(y_test)})")

    model_path = MODEL_DIR / "1" / "model.onnx"
    model_path.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(
        head, torch.zeros(1, 1, 8, 8), str(model_path), opset_version=OPSET,
        input_names=["image"], output_names=["probabilities"],
        dynamic_axes={"image": {0: "batch"}, "probabilities": {0: "batch"}},
    )
    model = onnx.load(str(model_path))
    model.doc_string = ("Berth example 'digits': CNN on scikit-learn's 8x8 digits. Input 'image' is pixels/16 "
                        "(examples/models/digits/preprocessing.json); output 'probabilities' is a softmax over 0-9.")
    model.model_version = 1
    for key, value in {
        "berth.dataset": "sklearn.datasets.load_digits (UCI Optical Recognition of Handwritten Digits)",
        "berth.preprocessing.file": "examples/models/digits/preprocessing.json",
        "berth.preprocessing.version": spec["version"],
        "berth.preprocessing.hash": spec["hash"],
        "berth.classes": '["0","1","2","3","4","5","6","7","8","9"]',
        "berth.metrics.test_accuracy": f"{test_acc:.6f}",
        "berth.metrics.train_accuracy": f"{train_acc:.6f}",
        "berth.multiply_adds_per_item": str(multiply_adds()),
    }.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(model_path))

    DATA_DIR.mkdir(parents=True, exist_ok=True)
    write_bytes(DATA_DIR / "test-images.f32", x_test.astype("<f4").tobytes())
    write_bytes(DATA_DIR / "test-labels.u8", y_test.tobytes())
    write_json(DATA_DIR / "test-images.json", {
        "description": "held-out 20% of sklearn load_digits, already scaled with examples/models/digits/preprocessing.json",
        "images": {"file": "test-images.f32", "compression": "none", "dtype": "float32", "byteOrder": "little",
                   "order": "row-major", "shape": [len(x_test), 1, 8, 8]},
        "labels": {"file": "test-labels.u8", "dtype": "uint8", "shape": [len(y_test)], "meaning": "the digit 0..9"},
        "split": f"sklearn.model_selection.train_test_split(test_size={TEST_FRACTION}, "
                 f"random_state={SPLIT_SEED}, stratify=target), the test part in returned order",
        "preprocessingHash": spec["hash"],
    })

    pick = 0
    probabilities = predict(head, x_test[pick:pick + 1])
    write_json(REQUESTS_DIR / "digits.json", {
        "id": "digits-example-1",
        "inputs": [{"name": "image", "shape": [1, 1, 8, 8], "datatype": "FP32", "data": f32_json(x_test[pick])}],
    })
    write_json(REQUESTS_DIR / "digits.expected.json", {
        "model_name": "digits",
        "model_version": "1",
        "id": "digits-example-1",
        "parameters": {
            "source": f"examples/data/digits/test-images.f32 image {pick}",
            "true_labels": str(int(y_test[pick])),
            "tolerance": "max abs diff 1e-5 on probabilities",
        },
        "outputs": [{"name": "probabilities", "shape": [1, 10], "datatype": "FP32", "data": f32_json(probabilities)}],
    })

    macs = multiply_adds()
    write_json(MODEL_DIR / "model-card.json", {
        "name": "digits",
        "version": "1",
        "task": "10-class classification of 8x8 handwritten digits",
        "intendedUse": "Demonstration of dynamic batching: a compute-bound model where batches amortise per-call cost.",
        "config": "berth.yaml (dynamic batching: maxBatchSize 32, maxQueueDelayMs 2)",
        "model": {
            "file": "1/model.onnx", "sha256": sha256_file(model_path),
            "architecture": "Conv(1->32,3x3,pad1)-ReLU-Conv(32->64,3x3,pad1)-ReLU-MaxPool2-Conv(64->64,3x3,pad1)-ReLU"
                            "-Flatten-Linear(1024->128)-ReLU-Linear(128->10)-Softmax",
            "parameters": sum(p.numel() for p in head.parameters()),
            "multiplyAddsPerImage": macs,
            "flopsPerImage": 2 * macs,
            "opset": OPSET,
            "inputs": [{"name": "image", "datatype": "FP32", "shape": ["batch", 1, 8, 8]}],
            "outputs": [{"name": "probabilities", "datatype": "FP32", "shape": ["batch", 10],
                         "meaning": "softmax; column k = P(digit == k)"}],
        },
        "preprocessing": {"file": "preprocessing.json", "version": spec["version"], "hash": spec["hash"]},
        "data": {
            "dataset": "scikit-learn load_digits: 1,797 8x8 images, a copy of the test set of the UCI Optical "
                       "Recognition of Handwritten Digits data (Alpaydin & Kaynak, 1998, CC BY 4.0, doi:10.24432/C50P49)",
            "split": f"stratified {int((1 - TEST_FRACTION) * 100)}/{int(TEST_FRACTION * 100)}, random_state={SPLIT_SEED}",
            "train": {"rows": len(y_train), "perClass": np.bincount(y_train, minlength=10).tolist()},
            "test": {"rows": len(y_test), "perClass": np.bincount(y_test, minlength=10).tolist(),
                     "files": ["examples/data/digits/test-images.f32", "examples/data/digits/test-labels.u8"]},
        },
        "metrics": {"trainAccuracy": round(train_acc, 6), "testAccuracy": round(test_acc, 6), "testCorrect": test_correct},
        "training": {"seed": SEED, "epochs": EPOCHS, "batchSize": BATCH_SIZE, "optimizer": "Adam",
                     "learningRate": LEARNING_RATE, "loss": "cross-entropy", "threads": 1},
        "reproduce": "/usr/bin/python3 examples/models/digits/train.py   (then: node examples/verify-models.mjs; "
                     "latency: node examples/measure-latency.mjs)",
        "environment": {"python": platform.python_version(), "torch": torch.__version__, "onnx": onnx.__version__,
                        "numpy": np.__version__, "scikit-learn": sklearn.__version__},
    })


if __name__ == "__main__":
    main()
