# Deep Learning with Python, section 5.4.3: visualizing heatmaps of class
# activation (Grad-CAM) through keras.backend (K.gradients, K.function).
# The book's Grad-CAM code with its imports changed (keras -> deepzero.keras),
# applied to the cats-vs-dogs model fine-tuned in section 5.3.2 instead of
# VGG16's 1000-class ImageNet classifier, whose weights are not stored here
# (nor are VGG16's; run_listing.py --base squeezenet gives the 5.3 listings
# SqueezeNet, see pretrained_base.py; docs/visualizing.md has the commands).
# What changes with the model:
# - the image is a test dog of DEEPZERO_DATA, scaled by 1/255 as the 5.3
#   generators do (the book: an elephant, VGG16's preprocess_input);
# - the score explained is the logit of "dog" (the input of the last Dense
#   layer's sigmoid, as the Grad-CAM paper takes the score before the softmax)
#   instead of ImageNet class 386 ("African elephant"): the fine-tuned model is
#   so sure of most images that its sigmoid gives exactly 1.0 in float32, whose
#   gradient is 0, and the heatmap would be empty;
# - the classifier sits on top of conv_base as one nested layer, so its layers
#   are called again on conv_base.output: the score and the last conv output
#   are then in one graph, which K.gradients needs (Keras needs it too).
# In the book this follows the 5.3 notebook's model; the 5.3.2 listing runs
# first, through the import below.
from listing_5_3_2_fine_tuning import *  # noqa: F401,F403  (model, conv_base)

import os
import matplotlib.pyplot as plt
import numpy as np
from deepzero.keras import backend as K
from deepzero.keras.preprocessing import image

img_path = os.path.join(os.environ.get('DEEPZERO_DATA', '../shared/data'),
                        'cats_and_dogs_small', 'test', 'dogs', 'dog.1502.jpg')

img = image.load_img(img_path, target_size=(150, 150))
x = image.img_to_array(img)
x = np.expand_dims(x, axis=0)
x /= 255.

preds = model.predict(x)
print('Predicted dog probability:', preds[0, 0])

# The score of the class "dog" (the book: model.output[:, 386]): the
# classifier's layers on conv_base's output, the last one without its sigmoid
features = conv_base.output
for layer in model.layers[1:-1]:
    features = layer(features)
last_dense = model.layers[-1]
dog_output = (K.dot(features, last_dense.kernel) + last_dense.bias)[:, 0]

# The output feature map of the last convolutional layer of the base
last_conv_layer = conv_base.get_layer('block5_conv3')

# This is the gradient of the "dog" class with regard to
# the output feature map of `block5_conv3`
grads = K.gradients(dog_output, last_conv_layer.output)[0]

# This is a vector of shape (512,), where each entry
# is the mean intensity of the gradient over a specific feature map channel
pooled_grads = K.mean(grads, axis=(0, 1, 2))

# This function allows us to access the values of the quantities we just defined:
# `pooled_grads` and the output feature map of `block5_conv3`,
# given a sample image
iterate = K.function([conv_base.input], [pooled_grads, last_conv_layer.output[0]])

# These are the values of these two quantities, as Numpy arrays,
# given our sample image of a dog
pooled_grads_value, conv_layer_output_value = iterate([x])

# We multiply each channel in the feature map array
# by "how important this channel is" with regard to the dog class
for i in range(512):
    conv_layer_output_value[:, :, i] *= pooled_grads_value[i]

# The channel-wise mean of the resulting feature map
# is our heatmap of class activation
heatmap = np.mean(conv_layer_output_value, axis=-1)

heatmap = np.maximum(heatmap, 0)
heatmap /= np.max(heatmap)
plt.matshow(heatmap)
plt.show()

import cv2

# We use cv2 to load the original image
img = cv2.imread(img_path)

# We resize the heatmap to have the same size as the original image
heatmap = cv2.resize(heatmap, (img.shape[1], img.shape[0]))

# We convert the heatmap to RGB
heatmap = np.uint8(255 * heatmap)

# We apply the heatmap to the original image
heatmap = cv2.applyColorMap(heatmap, cv2.COLORMAP_JET)

# 0.4 here is a heatmap intensity factor
superimposed_img = heatmap * 0.4 + img

# Save the image to disk
cv2.imwrite('dog_cam.png', superimposed_img)
