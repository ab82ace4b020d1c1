"""SqueezeNet v1.1: the real keras-squeezenet weights load and give features
that separate cats from dogs; the graph is keras-squeezenet's (checked
against the same graph built in Keras 3)."""
import h5py
import numpy as np
import pytest

import deepzero
from deepzero.applications import SqueezeNet, squeezenet
from deepzero.preprocessing.image import img_to_array, load_img

WEIGHTS = squeezenet.WEIGHTS_FILE_NO_TOP.name


@pytest.fixture
def weights_path(shared_data):
    path = shared_data / 'pretrained' / WEIGHTS
    if not path.is_file():
        pytest.skip(f"{path} not found")
    return path


def file_layers(path):
    """[(layer name, [arrays in weight_names order])] of a Keras-1 weight file."""
    with h5py.File(path, 'r') as f:
        layers = []
        for name in f.attrs['layer_names']:
            name = name.decode()
            group = f[name]
            layers.append((name, [group[w.decode()][()] for w in group.attrs['weight_names']]))
    return layers


def test_real_weights_load_into_the_files_layers_renamed_without_slashes(weights_path):
    model = SqueezeNet(weights=str(weights_path), include_top=False)
    stored = file_layers(weights_path)
    # Same layers in the same order (the file's input layer is 'input_1'), and
    # the same names but for '/' -> '_' ('fire2/squeeze1x1' -> 'fire2_squeeze1x1').
    assert [layer.name for layer in model.layers[1:]] == \
        [name.replace('/', '_') for name, _ in stored[1:]]
    with_weights = [(name, arrays) for name, arrays in stored if arrays]
    assert len(with_weights) == 25
    for name, arrays in with_weights:
        for loaded, expected in zip(model.get_layer(name.replace('/', '_')).get_weights(),
                                    arrays):
            np.testing.assert_array_equal(loaded, expected)
    assert model.count_params() == 722_496
    assert model.output_shape == (None, None, None, 512)
    assert SqueezeNet(weights=None, include_top=False,
                      input_shape=(227, 227, 3)).output_shape == (None, 13, 13, 512)


def test_imagenet_weights_need_include_top_false():
    with pytest.raises(ValueError, match='loads the published convolutional base'):
        SqueezeNet(weights='imagenet')
    with pytest.raises(ValueError, match='Input size must be at least 48x48'):
        SqueezeNet(weights=None, include_top=False, input_shape=(47, 47, 3))


def keras_squeezenet(keras, size, classes):
    """keras-squeezenet's graph in Keras 3 ('/' in layer names is not
    allowed there, '_' stands in; loading is by position)."""
    layers = keras.layers

    def fire(x, fire_id, squeeze, expand):
        prefix = f'fire{fire_id}_'
        x = layers.Conv2D(squeeze, 1, name=prefix + 'squeeze1x1')(x)
        x = layers.Activation('relu', name=prefix + 'relu_squeeze1x1')(x)
        left = layers.Conv2D(expand, 1, name=prefix + 'expand1x1')(x)
        left = layers.Activation('relu', name=prefix + 'relu_expand1x1')(left)
        right = layers.Conv2D(expand, 3, padding='same', name=prefix + 'expand3x3')(x)
        right = layers.Activation('relu', name=prefix + 'relu_expand3x3')(right)
        return layers.Concatenate(name=prefix + 'concat')([left, right])

    image = keras.Input((size, size, 3))
    x = layers.Conv2D(64, 3, strides=2, name='conv1')(image)
    x = layers.Activation('relu', name='relu_conv1')(x)
    x = layers.MaxPooling2D(3, strides=2, name='pool1')(x)
    x = fire(fire(x, 2, 16, 64), 3, 16, 64)
    x = layers.MaxPooling2D(3, strides=2, name='pool3')(x)
    x = fire(fire(x, 4, 32, 128), 5, 32, 128)
    x = layers.MaxPooling2D(3, strides=2, name='pool5')(x)
    for fire_id, squeeze, expand in ((6, 48, 192), (7, 48, 192), (8, 64, 256), (9, 64, 256)):
        x = fire(x, fire_id, squeeze, expand)
    x = layers.Dropout(0.5, name='drop9')(x)
    x = layers.Conv2D(classes, 1, name='conv10')(x)
    x = layers.Activation('relu', name='relu_conv10')(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Activation('softmax', name='loss')(x)
    return keras.Model(image, x)


def test_same_network_as_keras_squeezenet_with_top(tmp_path):
    keras = pytest.importorskip('keras')
    keras_model = keras_squeezenet(keras, 64, classes=10)
    rng = np.random.default_rng(0)
    for layer in keras_model.layers:
        if layer.weights:
            kernel, bias = layer.get_weights()
            layer.set_weights([rng.normal(0, (2 / np.prod(kernel.shape[:-1])) ** 0.5,
                                          kernel.shape).astype(np.float32),
                               rng.normal(0, 0.1, bias.shape).astype(np.float32)])
    path = str(tmp_path / 'squeezenet_top.h5')
    keras_model.save(path)
    model = SqueezeNet(weights=path, input_shape=(64, 64, 3), classes=10)
    assert model.layers[-1].name == 'loss' and model.count_params() == \
        keras_model.count_params()
    x = rng.uniform(-100, 100, (2, 64, 64, 3)).astype(np.float32)
    with deepzero.test_mode(), deepzero.no_grad():
        got = model(x).data
    expected = keras.ops.convert_to_numpy(keras_model(x, training=False))
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)


def load_images(folder, ids):
    """Cats (label 0) then dogs (label 1) with the given ids, at their stored 200x200."""
    images, labels = [], []
    for label, animal in enumerate(('cat', 'dog')):
        for i in ids:
            image = load_img(folder / f'{animal}s' / f'{animal}.{i}.jpg')
            images.append(img_to_array(image))
            labels.append(label)
    return np.stack(images), np.array(labels, dtype=np.float32)


def pooled_features(model, images, batch_size=50):
    features = []
    with deepzero.test_mode(), deepzero.no_grad():
        for start in range(0, len(images), batch_size):
            batch = squeezenet.preprocess_input(images[start:start + batch_size].copy())
            features.append(model(batch).data)
    return np.concatenate(features)


def fit_logistic_regression(features, labels, steps=300, learning_rate=0.1, l2=1e-2):
    """Full-batch gradient descent on the mean log-loss; returns (w, b)."""
    weights, bias = np.zeros(features.shape[1], np.float32), 0.0
    for _ in range(steps):
        errors = 1 / (1 + np.exp(-(features @ weights + bias))) - labels
        weights -= learning_rate * (features.T @ errors / len(labels) + l2 * weights)
        bias -= learning_rate * errors.mean()
    return weights, bias


def test_pretrained_features_separate_cats_from_dogs(shared_data, weights_path):
    data = shared_data / 'cats_and_dogs_small'
    if not data.is_dir():
        pytest.skip(f"{data} not found")
    model = SqueezeNet(weights=str(weights_path), include_top=False, pooling='avg',
                       input_shape=(200, 200, 3))
    train_x, train_y = load_images(data / 'train', range(200))
    val_x, val_y = load_images(data / 'validation', range(1000, 1100))
    train_f, val_f = pooled_features(model, train_x), pooled_features(model, val_x)
    assert train_f.shape == (400, 512) and train_f.dtype == np.float32
    mean, std = train_f.mean(axis=0), train_f.std(axis=0) + 1e-6
    weights, bias = fit_logistic_regression((train_f - mean) / std, train_y)
    accuracy = (((val_f - mean) / std @ weights + bias > 0) == val_y).mean()
    assert accuracy > 0.9, f"validation accuracy {accuracy:.3f}"


def test_a_slash_in_a_layer_or_model_name_is_refused_as_in_keras():
    from deepzero.keras import layers, models
    for make in (lambda: layers.Conv2D(16, 1, name='fire2/squeeze1x1'),
                 lambda: layers.Input((4,), name='in/put'),
                 lambda: models.Sequential([layers.Dense(1)], name='a/b'),
                 lambda: layers.Dense(1, name=3)):
        with pytest.raises(ValueError, match="the layer name must be a string without '/'"):
            make()
    keras = pytest.importorskip('keras')
    with pytest.raises(ValueError, match="cannot contain character `/`"):
        keras.layers.Conv2D(16, 1, name='fire2/squeeze1x1')
