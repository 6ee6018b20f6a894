"""Cross-physiology transfer: conditions, transfer methods and multi-condition studies."""
from kinlatent.transfer.conditions import Condition, ConditionError, ConditionSpec, build_condition, parse_condition
from kinlatent.transfer.methods import METHODS, TransferTask
from kinlatent.transfer.study import StudySpec, parse_study

__all__ = ["Condition", "ConditionError", "ConditionSpec", "METHODS", "StudySpec", "TransferTask",
           "build_condition", "parse_condition", "parse_study"]
