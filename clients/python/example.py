#!/usr/bin/env python3
"""The Python client against a real router: Score, ScoreBatch (columns), ExplainAssignment, and an
error with its field violations. Prints one JSON object per call (what the Java test checks).

    clients/python/generate.sh /tmp/trellis-py && PYTHONPATH=/tmp/trellis-py \\
        clients/python/example.py --target localhost:8080 --model churn --numeric tenure --categorical contract
"""
import argparse
import dataclasses
import json
import sys

from trellis_client import TrellisClient, TrellisError


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--target", default="localhost:8080")
    parser.add_argument("--model", default="churn")
    parser.add_argument("--numeric", default="tenure", help="a numeric feature of the model")
    parser.add_argument("--categorical", default="contract", help="a categorical feature of the model")
    parser.add_argument("--category", default="Month-to-month", help="a category of that feature")
    args = parser.parse_args()

    with TrellisClient(args.target, timeout=10.0) as client:
        score = client.score(args.model, "C00042", {args.numeric: 12, args.categorical: args.category}, explain=True)
        print(json.dumps({"call": "Score", **dataclasses.asdict(score)}))

        batch = client.score_columns(
            args.model,
            ["C1", "C2", ""],
            numbers={args.numeric: [1, 40, None]},
            strings={args.categorical: [args.category, None, args.category]},
        )
        print(json.dumps({"call": "ScoreBatch", "rows": [dataclasses.asdict(r) for r in batch]}))

        assignment = client.explain_assignment(args.model, "C00042")
        print(json.dumps({"call": "ExplainAssignment", **dataclasses.asdict(assignment)}))

        try:
            client.score(args.model, "C00042", {args.numeric: "not a number", "no_such_feature": 1})
            print(json.dumps({"call": "Error", "raised": False}))
        except TrellisError as error:
            print(json.dumps({
                "call": "Error",
                "raised": True,
                "code": error.code.name,
                "message": error.message,
                "reason": error.reason,
                "field_violations": [dataclasses.asdict(v) for v in error.field_violations],
            }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
