"""Model backends: the protocol, the transformers + peft backend, and model-spec resolution."""

from harness.models.base import (
    DecodingSettings,
    Generation,
    Loglikelihood,
    Model,
    ModelPair,
    RollingLoglikelihood,
)

__all__ = ["DecodingSettings", "Generation", "Loglikelihood", "Model", "ModelPair", "RollingLoglikelihood"]
