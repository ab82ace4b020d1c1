"""The same workloads in PyTorch, NCHW and channels_last, for side-by-side timing;
``device`` ``'cpu'`` (default) or ``'cuda'`` (bench/gpu_check.py)."""
import torch
from torch import nn

VGG16_BLOCKS = [(64, 2), (128, 2), (256, 3), (512, 3), (512, 3)]


def _book_convnet():
    layers, cin = [], 3
    for cout in (32, 64, 128, 128):
        layers += [nn.Conv2d(cin, cout, 3), nn.ReLU(), nn.MaxPool2d(2)]
        cin = cout
    layers += [nn.Flatten(), nn.Dropout(0.5), nn.Linear(6272, 512), nn.ReLU(),
               nn.Linear(512, 1), nn.Sigmoid()]
    return nn.Sequential(*layers)


def _prepare(model, x, channels_last, device):
    model, x = model.to(device), x.to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    return model, x


def w1_train(channels_last=False, batch=32, device='cpu'):
    torch.manual_seed(0)
    model, x = _prepare(_book_convnet(), torch.rand(batch, 3, 150, 150), channels_last, device)
    return _training_step(model, x, model.parameters(), learning_rate=1e-4)


def _training_step(model, x, params, learning_rate):
    """One step of binary crossentropy + RMSprop with Keras's defaults
    (rho 0.9, epsilon 1e-7), on random 0/1 labels."""
    t = (torch.rand(x.shape[0], 1) > 0.5).float().to(x.device)
    opt = torch.optim.RMSprop(params, lr=learning_rate, alpha=0.9, eps=1e-7)
    loss_fn = nn.BCELoss()

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), t)
        loss.backward()
        opt.step()
        return loss.item()
    return step


def w1_infer(channels_last=False, batch=32, device='cpu'):
    torch.manual_seed(0)
    model, x = _prepare(_book_convnet().eval(), torch.rand(batch, 3, 150, 150), channels_last,
                        device)

    def step():
        with torch.inference_mode():
            return model(x).sum().item()
    return step


def _vgg16_base():
    layers, cin = [], 3
    for cout, n in VGG16_BLOCKS:
        for _ in range(n):
            layers += [nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU()]
            cin = cout
        layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers)


def w2_vgg_forward(channels_last=False, batch=20, device='cpu'):
    torch.manual_seed(0)
    model, x = _prepare(_vgg16_base().eval(), torch.rand(batch, 3, 150, 150), channels_last,
                        device)

    def step():
        with torch.inference_mode():
            return model(x).sum().item()
    return step


def w3_finetune(channels_last=False, batch=20, device='cpu'):
    """Blocks 1-4 frozen (requires_grad False, so autograd also skips the
    input gradient of block5_conv1), block5 and the head trained."""
    torch.manual_seed(0)
    base = _vgg16_base()
    for layer in list(base)[:24]:  # everything before block5_conv1
        layer.requires_grad_(False)
    head = nn.Sequential(nn.Flatten(), nn.Linear(8192, 256), nn.ReLU(), nn.Linear(256, 1),
                         nn.Sigmoid())
    model, x = _prepare(nn.Sequential(base, head), torch.rand(batch, 3, 150, 150),
                        channels_last, device)
    return _training_step(model, x, [p for p in model.parameters() if p.requires_grad],
                          learning_rate=1e-5)


def workloads(channels_last):
    return {'W1_train': (lambda: w1_train(channels_last), 32),
            'W1_infer': (lambda: w1_infer(channels_last), 32),
            'W2_vgg_fwd': (lambda: w2_vgg_forward(channels_last), 20),
            'W3_finetune': (lambda: w3_finetune(channels_last), 20)}
