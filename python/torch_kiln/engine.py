"""torch_kiln.engine: Kiln's network API under TensorRT's Python names (``import torch_kiln.engine as trt``
ports converter code written against ``tensorrt``)."""

from ._C import (  # noqa: F401
    ActivationType,
    BackendKind,
    DataType,
    ElementWiseOperation,
    FillOperation,
    GatherMode,
    IActivationLayer,
    IAttentionLayer,
    ICastLayer,
    IConcatenationLayer,
    IConstantLayer,
    IConvolutionLayer,
    IElementWiseLayer,
    IGatherLayer,
    IIdentityLayer,
    ILayer,
    IMatrixMultiplyLayer,
    INetworkDefinition,
    INormalizationLayer,
    InterpolationMode,
    IPoolingLayer,
    IReduceLayer,
    ISelectLayer,
    IShapeLayer,
    IShuffleLayer,
    ISliceLayer,
    ISoftMaxLayer,
    ITensor,
    ITopKLayer,
    IUnaryLayer,
    LayerType,
    MatrixOperation,
    PaddingMode,
    PoolingType,
    ReduceOperation,
    SampleMode,
    TopKOperation,
    UnaryOperation,
    build_serialized_network,
    create_network,
)

# TensorRT spells these without the I prefix in a few places; keep both.
float32 = DataType.FLOAT
float16 = DataType.HALF
bfloat16 = DataType.BF16
int32 = DataType.INT32
int64 = DataType.INT64
int8 = DataType.INT8
bool = DataType.BOOL  # noqa: A001
