"""models stage: the encoder contract, the input layer and the built-in encoders (gcn, rgcn, sage).

The built-ins are registered through hetrec's own ``hetrec.encoders`` entry points, exactly as plugins are; look them
up with ``hetrec.registry.get_encoder_class(name)``.
"""

from __future__ import annotations

from hetrec.models.base import Encoder, LayeredEncoder
from hetrec.models.input import NodeInput

__all__ = ["Encoder", "LayeredEncoder", "NodeInput"]
