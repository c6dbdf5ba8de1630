"""Train the `income` example model (UCI Adult, >50K or not) and export it to ONNX.

Run from the repository root:  /usr/bin/python3 examples/models/income/train.py
Reads only files in the repository (examples/data/adult/*.gz) and rewrites:
  examples/models/income/preprocessing.json   the preprocessing as data (the contract)
  examples/models/income/1/model.onnx         features FP32[batch,D] -> probabilities, label
  examples/models/income/model-card.json      metrics, data, versions
  examples/data/adult/test-encoded.f32.gz     whole test split, encoded  (+ test-labels.u8)
  examples/requests/income.json               Open Inference Protocol request, 2 test rows
  examples/requests/income.expected.json      torch outputs for that request
Deterministic: fixed seeds, one thread, byte-stable writers.
"""

import gzip
import json
import platform
import sys
from pathlib import Path

import numpy as np
import onnx
import sklearn
import torch
from torch import nn

EXAMPLES = Path(__file__).resolve().parents[2]
sys.dont_write_bytecode = True  # keep __pycache__ out of examples/pylib
sys.path.insert(0, str(EXAMPLES / "pylib"))
from berth_examples import f32_json, sha256_file, with_spec_hash, write_bytes, write_json  # noqa: E402

MODEL_DIR = EXAMPLES / "models" / "income"
DATA_DIR = EXAMPLES / "data" / "adult"
REQUESTS_DIR = EXAMPLES / "requests"

SEED = 20240601
EPOCHS = 20
BATCH_SIZE = 128
LEARNING_RATE = 1e-3
OPSET = 17

RAW_COLUMNS = [
    "age", "workclass", "fnlwgt", "education", "education-num", "marital-status",
    "occupation", "relationship", "race", "sex", "capital-gain", "capital-loss",
    "hours-per-week", "native-country", "income",
]
NUMERIC = ["age", "education-num", "capital-gain", "capital-loss", "hours-per-week"]
CATEGORICAL = ["workclass", "marital-status", "occupation", "relationship", "race", "sex", "native-country"]
DROPPED = {
    "fnlwgt": "census sampling weight: describes how many people the row stands for, not the person; "
              "it carries no signal for an individual prediction",
    "education": "one-to-one with education-num (the ordinal years-of-education code), which is kept as numeric",
}
LABEL = {"column": "income", "positiveClass": ">50K", "negativeClass": "<=50K"}
MISSING_MARKERS = ["?", ""]
MISSING_CATEGORY = "?"
NUMBER_PATTERN = r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$"


def read_adult(path):
    """Rows of trimmed string fields from an Adult CSV (gzip), per the rules in the spec."""
    rows = []
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            if not line.strip() or line.startswith("|"):
                continue
            fields = [v.strip(" \t\r\n") for v in line.split(",")]
            if len(fields) != len(RAW_COLUMNS):
                raise ValueError(f"{path}: expected {len(RAW_COLUMNS)} fields, got {len(fields)}: {line!r}")
            rows.append(fields)
    return rows


def label_of(value):
    value = value[:-1] if value.endswith(".") else value
    if value == LABEL["positiveClass"]:
        return 1
    if value == LABEL["negativeClass"]:
        return 0
    raise ValueError(f"unknown label {value!r}")


def build_spec(train_rows):
    """Learn the preprocessing from the training split only and describe it as data."""
    col = {name: i for i, name in enumerate(RAW_COLUMNS)}
    features, names, offset = [], [], 0
    for name in RAW_COLUMNS:
        if name in NUMERIC:
            values = np.array([float(r[col[name]]) for r in train_rows if r[col[name]] not in MISSING_MARKERS])
            features.append({"column": name, "type": "numeric", "offset": offset, "width": 1,
                             "mean": float(values.mean()), "std": float(values.std())})
            names.append(name)
            offset += 1
        elif name in CATEGORICAL:
            values = {MISSING_CATEGORY if r[col[name]] in MISSING_MARKERS else r[col[name]] for r in train_rows}
            categories = sorted(values)  # code-point order; '?' sorts before letters
            features.append({"column": name, "type": "categorical", "offset": offset,
                             "width": len(categories), "categories": categories})
            names.extend(f"{name}={c}" for c in categories)
            offset += len(categories)
    spec = {
        "schemaVersion": 1,
        "kind": "tabular",
        "model": "income",
        "version": "1",
        "description": "Turns one UCI Adult record into the FP32 feature vector the income model's "
                       "'features' input expects. Learned from examples/data/adult/adult.data.gz only.",
        "source": {
            "format": "csv", "delimiter": ",", "header": False, "quoting": "none", "encoding": "utf-8",
            "commentPrefix": "|", "skipBlankLines": True,
            "note": "adult.test starts with a '|1x3 Cross validator' comment line and its labels end with '.'",
        },
        "rawColumns": RAW_COLUMNS,
        "records": "A record is either a CSV line whose fields are in rawColumns order, or an object keyed by "
                   "rawColumns names (numeric columns may then be JSON numbers; categorical values are strings). The label and dropped columns "
                   "may be absent at prediction time; every column used by 'features' is required (an absent "
                   "key is an error, a missing marker is not).",
        "whitespace": "Trim leading and trailing space, tab, CR and LF from every raw string value before "
                      "applying any other rule (the CSV has a space after each comma).",
        "missingValues": MISSING_MARKERS,
        "missingNote": "adult.data spells a missing value '?'; the repository's adult.test spells it as an empty "
                       "field. Both (after trimming) mean missing.",
        "numeric": {
            "encode": "float32((x - mean) / std), the subtraction and division done in float64 and the result "
                      "rounded to the nearest float32",
            "parse": "x is the trimmed string parsed as a decimal number matching numberPattern, or a JSON number",
            "numberPattern": NUMBER_PATTERN,
            "statistics": "mean and std (population, ddof=0) over the non-missing training values",
            "missing": "encodes to 0.0 (imputation with the training mean)",
            "invalid": "a value that is neither missing nor a finite number matching numberPattern is an error",
        },
        "categorical": {
            "encode": "one-hot: one slot per entry of 'categories', in that order; a slot is 1.0 when the "
                      "trimmed value equals the category exactly (case-sensitive), otherwise 0.0",
            "categoryOrder": "the distinct training values sorted by Unicode code point",
            "missing": f"a missing value is replaced by the category '{MISSING_CATEGORY}' and then encoded "
                       f"normally; columns with no missing training values have no '{MISSING_CATEGORY}' "
                       "category, so a missing value there encodes like an unseen one",
            "unseen": "a value not in 'categories' encodes as all zeros for that column (not an error)",
        },
        "droppedColumns": [{"column": c, "reason": r} for c, r in DROPPED.items()],
        "label": {
            **LABEL,
            "parse": "trim, then remove one trailing '.' (adult.test writes '>50K.')",
            "encoding": {"0": LABEL["negativeClass"], "1": LABEL["positiveClass"]},
            "modelOutputs": "probabilities[:, 1] is P(income >50K); label is the argmax (1 = >50K)",
        },
        "output": {
            "name": "features", "datatype": "FP32", "shape": [-1, offset],
            "layout": "row-major; slot j of a row is the entry of 'featureNames' at index j; each entry of "
                      "'features' fills slots [offset, offset + width)",
        },
        "featureCount": offset,
        "features": features,
        "featureNames": names,
    }
    return with_spec_hash(spec)


def encode(rows, spec):
    """Reference implementation of preprocessing.json (the TypeScript one must match it bit for bit)."""
    col = {name: i for i, name in enumerate(spec["rawColumns"])}
    out = np.zeros((len(rows), spec["featureCount"]), dtype=np.float32)
    for feature in spec["features"]:
        values = [r[col[feature["column"]]] for r in rows]
        if feature["type"] == "numeric":
            x = np.array([np.nan if v in MISSING_MARKERS else float(v) for v in values], dtype=np.float64)
            z = (x - feature["mean"]) / feature["std"]
            out[:, feature["offset"]] = np.where(np.isnan(z), 0.0, z).astype(np.float32)
        else:
            slot = {c: i for i, c in enumerate(feature["categories"])}
            for i, v in enumerate(values):
                j = slot.get(MISSING_CATEGORY if v in MISSING_MARKERS else v)
                if j is not None:
                    out[i, feature["offset"] + j] = 1.0
    return out


class IncomeMLP(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(d, 64), nn.ReLU(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 2))

    def forward(self, features):
        return self.net(features)


class ServingHead(nn.Module):
    """What gets exported: probabilities and the argmax label, so clients need no post-processing."""

    def __init__(self, mlp):
        super().__init__()
        self.mlp = mlp

    def forward(self, features):
        logits = self.mlp(features)
        return torch.softmax(logits, dim=1), torch.argmax(logits, dim=1)


def train(x, y):
    torch.manual_seed(SEED)
    model = IncomeMLP(x.shape[1])
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
        probabilities, label = head(torch.from_numpy(x))
    return probabilities.numpy(), label.numpy()


def export_onnx(head, d, path, metadata, doc):
    torch.onnx.export(
        head, torch.zeros(1, d), str(path), opset_version=OPSET,
        input_names=["features"], output_names=["probabilities", "label"],
        dynamic_axes={"features": {0: "batch"}, "probabilities": {0: "batch"}, "label": {0: "batch"}},
    )
    model = onnx.load(str(path))
    model.doc_string = doc
    model.model_version = 1
    for key, value in metadata.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(path))


def main():
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)

    train_rows = read_adult(DATA_DIR / "adult.data.gz")
    test_rows = read_adult(DATA_DIR / "adult.test.gz")
    spec = build_spec(train_rows)
    write_json(MODEL_DIR / "preprocessing.json", spec)
    d = spec["featureCount"]

    label_col = RAW_COLUMNS.index("income")
    x_train, y_train = encode(train_rows, spec), np.array([label_of(r[label_col]) for r in train_rows], np.uint8)
    x_test, y_test = encode(test_rows, spec), np.array([label_of(r[label_col]) for r in test_rows], np.uint8)
    print(f"train {x_train.shape}  test {x_test.shape}  D={d}")

    head = ServingHead(train(x_train, y_train)).eval()
    _, train_pred = predict(head, x_train)
    _, test_pred = predict(head, x_test)
    train_correct, test_correct = int((train_pred == y_train).sum()), int((test_pred == y_test).sum())
    train_acc, test_acc = train_correct / len(y_train), test_correct / len(y_test)
    print(f"train accuracy {train_acc:.4f}  test accuracy {test_acc:.4f} ({test_correct}/{len(y_test)})")

    model_path = MODEL_DIR / "1" / "model.onnx"
    model_path.parent.mkdir(parents=True, exist_ok=True)
    export_onnx(head, d, model_path, doc=(
        "Berth example 'income': MLP (D->64->32->2) predicting whether income >50K on UCI Adult "
        "(Becker & Kohavi 1996, CC BY 4.0, doi:10.24432/C5XW20). Input 'features' is the output of "
        "examples/models/income/preprocessing.json; 'probabilities'[:,1] = P(>50K), 'label' = argmax."
    ), metadata={
        "berth.dataset": "UCI Adult (Census Income), doi:10.24432/C5XW20, CC BY 4.0",
        "berth.preprocessing.file": "examples/models/income/preprocessing.json",
        "berth.preprocessing.version": spec["version"],
        "berth.preprocessing.hash": spec["hash"],
        "berth.feature_count": str(d),
        "berth.classes": json.dumps([LABEL["negativeClass"], LABEL["positiveClass"]]),
        "berth.metrics.test_accuracy": f"{test_acc:.6f}",
        "berth.metrics.train_accuracy": f"{train_acc:.6f}",
    })

    # Whole test split, encoded: float32 little-endian row-major [N, D], gzip; labels one byte each.
    write_bytes(DATA_DIR / "test-encoded.f32.gz", x_test.astype("<f4").tobytes(), compress=True)
    write_bytes(DATA_DIR / "test-labels.u8", y_test.astype(np.uint8).tobytes())
    write_json(DATA_DIR / "test-encoded.json", {
        "description": "adult.test encoded with examples/models/income/preprocessing.json",
        "features": {"file": "test-encoded.f32.gz", "compression": "gzip", "dtype": "float32",
                     "byteOrder": "little", "order": "row-major", "shape": [len(x_test), d]},
        "labels": {"file": "test-labels.u8", "dtype": "uint8", "shape": [len(y_test)],
                   "encoding": {"0": LABEL["negativeClass"], "1": LABEL["positiveClass"]}},
        "preprocessingHash": spec["hash"],
        "rowOrder": "same order as the data lines of adult.test.gz (comment and blank lines skipped)",
    })

    # Request: the first test row (<=50K) and the first >50K test row the model gets right,
    # so the example response shows both labels.
    picks = [0, int(np.flatnonzero((y_test == 1) & (test_pred == 1))[0])]
    probabilities, labels = predict(head, x_test[picks])
    write_json(REQUESTS_DIR / "income.json", {
        "id": "income-example-1",
        "inputs": [{"name": "features", "shape": [len(picks), d], "datatype": "FP32", "data": f32_json(x_test[picks])}],
    })
    write_json(REQUESTS_DIR / "income.expected.json", {
        "model_name": "income",
        "model_version": "1",
        "id": "income-example-1",
        "parameters": {
            "source": f"examples/data/adult/adult.test.gz data rows {picks} (0-based, comment line skipped)",
            "rows": " | ".join(", ".join(test_rows[i]) for i in picks),
            "true_labels": ",".join(str(int(y_test[i])) for i in picks),
            "tolerance": "max abs diff 1e-5 on probabilities; label exact",
        },
        "outputs": [
            {"name": "probabilities", "shape": [len(picks), 2], "datatype": "FP32", "data": f32_json(probabilities)},
            {"name": "label", "shape": [len(picks)], "datatype": "INT64", "data": [int(v) for v in labels]},
        ],
    })

    write_json(MODEL_DIR / "model-card.json", {
        "name": "income",
        "version": "1",
        "task": "binary classification: does a person's annual income exceed $50K (UCI Adult)",
        "intendedUse": "Demonstration of serving, monitoring and fairness checks in Berth. Not for real decisions: "
                       "1994 US census data, with known disparities by sex and race.",
        "config": "none on purpose: this model shows that a torch-exported ONNX file is served with no berth.yaml",
        "model": {
            "file": "1/model.onnx", "sha256": sha256_file(model_path),
            "architecture": f"MLP {d} -> 64 -> ReLU -> 32 -> ReLU -> 2, softmax + argmax heads",
            "parameters": sum(p.numel() for p in head.parameters()),
            "opset": OPSET,
            "inputs": [{"name": "features", "datatype": "FP32", "shape": ["batch", d]}],
            "outputs": [{"name": "probabilities", "datatype": "FP32", "shape": ["batch", 2],
                         "meaning": "softmax; column 0 = P(<=50K), column 1 = P(>50K)"},
                        {"name": "label", "datatype": "INT64", "shape": ["batch"], "meaning": "argmax; 1 = >50K"}],
        },
        "preprocessing": {"file": "preprocessing.json", "version": spec["version"], "hash": spec["hash"],
                          "featureCount": d},
        "data": {
            "dataset": "UCI Adult (Census Income)",
            "citation": "Becker, B. & Kohavi, R. (1996). Adult. UCI Machine Learning Repository. doi:10.24432/C5XW20",
            "license": "CC BY 4.0",
            "files": ["examples/data/adult/adult.data.gz", "examples/data/adult/adult.test.gz"],
            "train": {"rows": len(y_train), "positive": int(y_train.sum()), "negative": int(len(y_train) - y_train.sum()),
                      "positiveRate": round(float(y_train.mean()), 6)},
            "test": {"rows": len(y_test), "positive": int(y_test.sum()), "negative": int(len(y_test) - y_test.sum()),
                     "positiveRate": round(float(y_test.mean()), 6)},
        },
        "metrics": {
            "trainAccuracy": round(train_acc, 6),
            "testAccuracy": round(test_acc, 6),
            "testCorrect": test_correct,
            "testSplit": "the official adult.test split (16,281 rows), never used for training or model selection",
            "majorityClassBaselineTestAccuracy": round(1 - float(y_test.mean()), 6),
        },
        "training": {"seed": SEED, "epochs": EPOCHS, "batchSize": BATCH_SIZE, "optimizer": "Adam",
                     "learningRate": LEARNING_RATE, "loss": "cross-entropy", "threads": 1},
        "reproduce": "/usr/bin/python3 examples/models/income/train.py   (then: node examples/verify-models.mjs)",
        "environment": {"python": platform.python_version(), "torch": torch.__version__, "onnx": onnx.__version__,
                        "numpy": np.__version__, "scikit-learn": sklearn.__version__},
    })


if __name__ == "__main__":
    main()
