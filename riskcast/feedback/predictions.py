"""Feedback on a stored prediction: an operator's truth scored like a late label.

A served model's prediction is stored as a derived reading (source
``model:<name>@<version>``). Feedback names the site and time of one such prediction and gives
the truth: the true ``label`` (classification) or ``value`` (regression), or only a
``verdict`` (``correct`` / ``incorrect``, binary classification: the true label is the
predicted one or the other). It is scored against the stored value exactly as
:func:`riskcast.models.performance.score_outcomes` scores a late label, so it feeds the
version's live accuracy, Brier score or MAE beside the labels posted to ``/outcomes``.

>>> answer = stored_answer("classification", ("no", "fire"), 0.8)
>>> answer["labels"], answer["positive_class"]
(['fire'], 'fire')
>>> truth("classification", ("no", "fire"), 0.8, verdict="incorrect")
'no'
>>> truth("regression", None, 7.5, value=8.0)
8.0
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Final, Literal

import msgspec

from riskcast.exceptions import ValidationError

Verdict = Literal["correct", "incorrect"]
_SOURCE: Final = re.compile(r"^model:(?P<name>[^@]+)@(?P<version>\d+)$")


class PredictionFeedback(msgspec.Struct, frozen=True, kw_only=True):
    """One operator's word on one stored prediction."""

    name: str
    version: int
    site: str
    time: str
    predicted: float
    truth: Any
    verdict: Verdict | None = None
    by: str
    at: str

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = msgspec.to_builtins(self)
        return out


def version_of(source: str | None, name: str) -> int | None:
    """The version a stored prediction's source names when it is ``name``'s, else ``None``.

    >>> version_of("model:wildfire-occurrence@3", "wildfire-occurrence"), version_of("sim", "m")
    (3, None)
    """
    found = _SOURCE.match(source or "")
    if found is None or found["name"] != name:
        return None
    return int(found["version"])


def stored_answer(task: str, classes: Sequence[Any] | None, value: float) -> dict[str, Any]:
    """The answer a stored prediction stands for, as :meth:`Predictor.predict` gives it:
    P(positive class) for a binary classifier, the value for a regressor."""
    if task == "regression":
        return {"values": [value]}
    if classes is None or len(classes) != 2:
        raise ValidationError("feedback is scored for binary classifiers and regressors; "
                              "this model has more classes (its series stores the class "
                              "index, not the probabilities)", field="name")
    return {"probabilities": [value], "labels": [classes[1] if value > 0.5 else classes[0]],
            "positive_class": classes[1]}


def truth(task: str, classes: Sequence[Any] | None, predicted: float, *, label: Any = None,
          value: Any = None, verdict: Verdict | None = None) -> Any:
    """The true label or value that feedback gives: ``label`` (or ``value``) as given, or
    for a ``verdict`` the predicted label (``correct``) or the other one (``incorrect``).
    Exactly one of them; :class:`ValidationError` naming the field otherwise."""
    if sum(x is not None for x in (label, value, verdict)) != 1:
        raise ValidationError("give exactly one of label, value or verdict", field="label")
    if task == "regression":
        if verdict is not None or label is not None:
            raise ValidationError("a regressor's feedback is the true value", field="value")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValidationError(f"not a number: {value!r}", field="value")
        return float(value)
    answer = stored_answer(task, classes, predicted)
    assert classes is not None
    if verdict is not None:
        said = answer["labels"][0]
        return said if verdict == "correct" else next(c for c in classes if c != said)
    if value is not None:
        raise ValidationError("a classifier's feedback is the true label", field="label")
    if label not in classes:
        raise ValidationError(f"unknown class {label!r}; one of {list(classes)}", field="label")
    return next(c for c in classes if c == label)
