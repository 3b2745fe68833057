"""torch_kiln: compile PyTorch models into Kiln engines.

    import torch_kiln
    trt_mod = torch_kiln.compile(model, inputs=[torch_kiln.Input((1, 3, 224, 224))])
"""

import os as _os

if _os.environ.get("KILN_EXTENSION_DIR"):
    # Developers with several build trees point this at the folder holding their own _C*.so.
    __path__.insert(0, _os.environ["KILN_EXTENSION_DIR"])

from . import _C  # noqa: E402
from ._input import Input  # noqa: E402

__version__ = _C.__kiln_version__

from . import dynamo, engine, runtime  # noqa: E402
from ._backend import register as _register_backend  # noqa: E402
from ._compile import compile  # noqa: E402,A001
from ._save import load, save  # noqa: E402

_register_backend()

__all__ = ["Input", "compile", "save", "load", "dynamo", "runtime", "engine", "__version__"]
