"""DeZero's models (``dezero.models``): ``Model`` (a Layer that can draw its
graph), ``Sequential``, ``MLP``, and the ImageNet networks ``VGG16`` and
``ResNet50/101/152`` (NCHW).

``pretrained=True`` loads DeZero's weight files (vgg16.npz, resnet152.npz,
...) from DeZero's cache folder (``~/.dezero`` or $DEZERO_CACHE_DIR);
deepzero does not download them, so a missing file raises ``MissingDownload``
naming the file, the folder and the address it comes from.
"""
import numpy as np

from . import functions as F
from . import layers as L
from . import utils
from .layers import Layer

__all__ = ['Model', 'Sequential', 'MLP', 'VGG16', 'ResNet', 'ResNet50', 'ResNet101',
           'ResNet152', 'BuildingBlock', 'BottleneckA', 'BottleneckB']


class Model(Layer):
    def plot(self, *inputs, to_file='model.png'):
        """Run ``forward(*inputs)`` and draw the graph that made its output
        to ``to_file`` (Graphviz's ``dot``)."""
        y = self.forward(*inputs)
        return utils.plot_dot_graph(y, verbose=True, to_file=to_file)


class Sequential(Model):
    """Calls ``layers`` in order; Layers among them are registered as
    ``l0``, ``l1``, ... (plain functions such as ``F.relu`` may be mixed in)."""

    def __init__(self, *layers):
        super().__init__()
        self.layers = []
        for i, layer in enumerate(layers):
            setattr(self, f'l{i}', layer)
            self.layers.append(layer)

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


class MLP(Model):
    """Fully connected layers ``l0, l1, ...`` of ``fc_output_sizes``, with
    ``activation`` between them (none after the last)."""

    def __init__(self, fc_output_sizes, activation=F.sigmoid):
        super().__init__()
        self.activation = activation
        self.layers = []
        for i, out_size in enumerate(fc_output_sizes):
            layer = L.Linear(out_size)
            setattr(self, f'l{i}', layer)
            self.layers.append(layer)

    def forward(self, x):
        for layer in self.layers[:-1]:
            x = self.activation(layer(x))
        return self.layers[-1](x)


# --- VGG16 --------------------------------------------------------------------

class VGG16(Model):
    """VGG16 for (N, 3, 224, 224) BGR images (see ``preprocess``) -> (N, 1000)
    class scores. Convolutions ``conv1_1`` ... ``conv5_3`` (3x3, pad 1, ReLU,
    a 2x2 max pool after each block), then ``fc6``, ``fc7`` (4096, ReLU,
    dropout) and ``fc8``."""
    WEIGHTS_PATH = 'https://github.com/koki0702/dezero-models/releases/download/v0.1/vgg16.npz'
    BLOCKS = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))

    def __init__(self, pretrained=False):
        super().__init__()
        for block, (channels, convs) in enumerate(self.BLOCKS, start=1):
            for i in range(1, convs + 1):
                setattr(self, f'conv{block}_{i}', L.Conv2d(channels, kernel_size=3, stride=1,
                                                           pad=1))
        self.fc6 = L.Linear(4096)
        self.fc7 = L.Linear(4096)
        self.fc8 = L.Linear(1000)
        if pretrained:
            self.load_weights(utils.get_file(VGG16.WEIGHTS_PATH))

    def forward(self, x):
        for block, (_, convs) in enumerate(self.BLOCKS, start=1):
            for i in range(1, convs + 1):
                x = F.relu(getattr(self, f'conv{block}_{i}')(x))
            x = F.pooling(x, 2, 2)
        x = F.reshape(x, (x.shape[0], -1))
        x = F.dropout(F.relu(self.fc6(x)))
        x = F.dropout(F.relu(self.fc7(x)))
        return self.fc8(x)

    @staticmethod
    def preprocess(image, size=(224, 224), dtype=np.float32):
        """A PIL image as VGG16's input: RGB, resized to ``size`` (none if
        falsy), channels reversed to BGR, the ImageNet BGR means subtracted,
        (3, H, W) of ``dtype``."""
        image = image.convert('RGB')
        if size:
            image = image.resize(size)
        image = np.asarray(image, dtype=dtype)[:, :, ::-1]
        image = image - np.array([103.939, 116.779, 123.68], dtype=dtype)
        return image.transpose((2, 0, 1))


# --- ResNet -------------------------------------------------------------------

class ResNet(Model):
    """ResNet-50/101/152 (``n_layers``) for (N, 3, 224, 224) -> (N, 1000):
    a 7x7/2 conv with batch norm, a 3x3/2 max pool, four stages of bottleneck
    blocks (``res2`` ... ``res5``), global average pooling and ``fc6``."""
    WEIGHTS_PATH = 'https://github.com/koki0702/dezero-models/releases/download/v0.1/resnet{}.npz'
    STAGES = {50: [3, 4, 6, 3], 101: [3, 4, 23, 3], 152: [3, 8, 36, 3]}

    def __init__(self, n_layers=152, pretrained=False):
        super().__init__()
        if n_layers not in self.STAGES:
            raise ValueError(f"ResNet: n_layers must be 50, 101 or 152, got {n_layers!r}")
        block = self.STAGES[n_layers]
        self.conv1 = L.Conv2d(64, 7, 2, 3)
        self.bn1 = L.BatchNorm()
        self.res2 = BuildingBlock(block[0], 64, 64, 256, 1)
        self.res3 = BuildingBlock(block[1], 256, 128, 512, 2)
        self.res4 = BuildingBlock(block[2], 512, 256, 1024, 2)
        self.res5 = BuildingBlock(block[3], 1024, 512, 2048, 2)
        self.fc6 = L.Linear(1000)
        if pretrained:
            self.load_weights(utils.get_file(ResNet.WEIGHTS_PATH.format(n_layers)))

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.pooling(x, kernel_size=3, stride=2)
        x = self.res5(self.res4(self.res3(self.res2(x))))
        n, c, h, w = x.shape
        x = F.reshape(F.average_pooling(x, (h, w), stride=1), (n, c))
        return self.fc6(x)


class ResNet152(ResNet):
    def __init__(self, pretrained=False):
        super().__init__(152, pretrained)


class ResNet101(ResNet):
    def __init__(self, pretrained=False):
        super().__init__(101, pretrained)


class ResNet50(ResNet):
    def __init__(self, pretrained=False):
        super().__init__(50, pretrained)


class BuildingBlock(Layer):
    """One stage: a ``BottleneckA`` (``a``, changes channels and resolution)
    then ``n_layers - 1`` ``BottleneckB`` (``b1``, ``b2``, ...)."""

    def __init__(self, n_layers=None, in_channels=None, mid_channels=None,
                 out_channels=None, stride=None, downsample_fb=None):
        super().__init__()
        self.a = BottleneckA(in_channels, mid_channels, out_channels, stride, downsample_fb)
        self._forward = ['a']
        for i in range(1, n_layers):
            setattr(self, f'b{i}', BottleneckB(out_channels, mid_channels))
            self._forward.append(f'b{i}')

    def forward(self, x):
        for name in self._forward:
            x = getattr(self, name)(x)
        return x


class BottleneckA(Layer):
    """1x1, 3x3, 1x1 convs with batch norm, plus a strided 1x1 conv on the
    shortcut. ``downsample_fb``: the stride on the 3x3 conv (Facebook's
    ResNet) instead of the first 1x1 (MSRA's)."""

    def __init__(self, in_channels, mid_channels, out_channels, stride=2, downsample_fb=False):
        super().__init__()
        stride_1x1, stride_3x3 = (1, stride) if downsample_fb else (stride, 1)
        self.conv1 = L.Conv2d(mid_channels, 1, stride_1x1, 0, nobias=True)
        self.bn1 = L.BatchNorm()
        self.conv2 = L.Conv2d(mid_channels, 3, stride_3x3, 1, nobias=True)
        self.bn2 = L.BatchNorm()
        self.conv3 = L.Conv2d(out_channels, 1, 1, 0, nobias=True)
        self.bn3 = L.BatchNorm()
        self.conv4 = L.Conv2d(out_channels, 1, stride, 0, nobias=True)
        self.bn4 = L.BatchNorm()

    def forward(self, x):
        h1 = F.relu(self.bn1(self.conv1(x)))
        h1 = F.relu(self.bn2(self.conv2(h1)))
        h1 = self.bn3(self.conv3(h1))
        h2 = self.bn4(self.conv4(x))
        return F.relu(h1 + h2)


class BottleneckB(Layer):
    """1x1, 3x3, 1x1 convs with batch norm around an identity shortcut."""

    def __init__(self, in_channels, mid_channels):
        super().__init__()
        self.conv1 = L.Conv2d(mid_channels, 1, 1, 0, nobias=True)
        self.bn1 = L.BatchNorm()
        self.conv2 = L.Conv2d(mid_channels, 3, 1, 1, nobias=True)
        self.bn2 = L.BatchNorm()
        self.conv3 = L.Conv2d(in_channels, 1, 1, 0, nobias=True)
        self.bn3 = L.BatchNorm()

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        h = F.relu(self.bn2(self.conv2(h)))
        h = self.bn3(self.conv3(h))
        return F.relu(h + x)
