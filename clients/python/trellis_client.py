"""A small typed wrapper around the generated Trellis stubs (Scoring and Experiments).

Generate the stubs first (clients/python/generate.sh OUT_DIR), then put OUT_DIR on sys.path:

    from trellis_client import TrellisClient, TrellisError
    with TrellisClient("localhost:8080") as client:
        result = client.score("churn", "C00042", {"tenure": 12, "contract": "Month-to-month"})
        print(result.score, result.label, result.served_version)

Errors raise TrellisError with the gRPC code, the message, the ErrorInfo reason and the
google.rpc.BadRequest field violations, decoded from the call's grpc-status-details-bin.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Dict, List, Mapping, Optional, Sequence, Union

import grpc
from google.protobuf import struct_pb2

from google.rpc import error_details_pb2, status_pb2
from trellis.v1 import experiments_pb2, experiments_pb2_grpc, scoring_pb2, scoring_pb2_grpc

FeatureValue = Union[float, int, str, None]


@dataclasses.dataclass(frozen=True)
class FieldViolation:
    field: str
    description: str


class TrellisError(Exception):
    """A failed call: status code, message, reason (ErrorInfo) and field violations (BadRequest)."""

    def __init__(self, code: grpc.StatusCode, message: str, reason: str,
                 field_violations: List[FieldViolation]):
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message
        self.reason = reason
        self.field_violations = field_violations

    @staticmethod
    def from_rpc_error(error: grpc.RpcError) -> "TrellisError":
        reason = ""
        violations: List[FieldViolation] = []
        for key, value in error.trailing_metadata() or ():
            if key != "grpc-status-details-bin":
                continue
            status = status_pb2.Status.FromString(value)
            for detail in status.details:
                if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                    info = error_details_pb2.ErrorInfo()
                    detail.Unpack(info)
                    reason = info.reason
                elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                    bad = error_details_pb2.BadRequest()
                    detail.Unpack(bad)
                    violations.extend(FieldViolation(v.field, v.description) for v in bad.field_violations)
        return TrellisError(error.code(), error.details() or "", reason, violations)


@dataclasses.dataclass(frozen=True)
class ScoreResult:
    score: float
    label: str
    lower: float
    upper: float
    served_model: str
    served_version: str
    served_reason: str
    contributions: Dict[str, float]


@dataclasses.dataclass(frozen=True)
class Assignment:
    model: str
    version: str
    reason: str
    experiment: str
    variant: str
    summary: str


def _value(value: FeatureValue) -> struct_pb2.Value:
    if value is None:
        return struct_pb2.Value(null_value=struct_pb2.NULL_VALUE)
    if isinstance(value, str):
        return struct_pb2.Value(string_value=value)
    return struct_pb2.Value(number_value=float(value))


def _result(response: scoring_pb2.ScoreResponse) -> ScoreResult:
    return ScoreResult(
        score=response.score,
        label=response.label,
        lower=response.interval.lower,
        upper=response.interval.upper,
        served_model=response.served.model,
        served_version=response.served.version,
        served_reason=scoring_pb2.RoutingReason.Name(response.served.reason),
        contributions={c.feature: c.value for c in response.explanation.contributions},
    )


class TrellisClient:
    """Calls one router; every call carries a deadline (timeout, seconds)."""

    def __init__(self, target: str, token: Optional[str] = None, timeout: float = 2.0):
        self._channel = grpc.insecure_channel(target)
        self._scoring = scoring_pb2_grpc.ScoringStub(self._channel)
        self._experiments = experiments_pb2_grpc.ExperimentsStub(self._channel)
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()
        self._timeout = timeout

    def __enter__(self) -> "TrellisClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._channel.close()

    def _call(self, method, request):
        try:
            return method(request, timeout=self._timeout, metadata=self._metadata)
        except grpc.RpcError as error:
            raise TrellisError.from_rpc_error(error) from None

    def score(self, model: str, unit_id: str, features: Mapping[str, FeatureValue],
              explain: bool = False) -> ScoreResult:
        request = scoring_pb2.ScoreRequest(model=model, unit_id=unit_id, explain=explain)
        for name, value in features.items():
            request.features[name].CopyFrom(_value(value))
        return _result(self._call(self._scoring.Score, request))

    def score_columns(self, model: str, unit_ids: Sequence[str],
                      numbers: Mapping[str, Sequence[Optional[float]]] = (),
                      strings: Mapping[str, Sequence[Optional[str]]] = ()) -> List[ScoreResult]:
        """ScoreBatch in the columnar form: one array per feature, None for missing."""
        columns = scoring_pb2.FeatureColumns(unit_ids=list(unit_ids))
        for name, values in dict(numbers).items():
            column = columns.features.add(name=name)
            column.numbers.values.extend(math.nan if v is None else float(v) for v in values)
        for name, values in dict(strings).items():
            column = columns.features.add(name=name)
            column.strings.values.extend("" if v is None else v for v in values)
        response = self._call(self._scoring.ScoreBatch, scoring_pb2.ScoreBatchRequest(model=model, columns=columns))
        return [_result(r) for r in response.results]

    def explain_assignment(self, model: str, unit_id: str,
                           attributes: Optional[Mapping[str, str]] = None) -> Assignment:
        request = experiments_pb2.ExplainAssignmentRequest(model=model, unit_id=unit_id)
        for name, value in (attributes or {}).items():
            request.attributes[name] = value
        response = self._call(self._experiments.ExplainAssignment, request)
        return Assignment(
            model=model,
            version=response.version,
            reason=scoring_pb2.RoutingReason.Name(response.reason),
            experiment=response.experiment,
            variant=response.variant,
            summary=response.summary,
        )
