export { ChannelPadShortcut, type ChannelPadShortcutArgs } from './shortcut.js';
export { resnetCifar, type ResNetCifarOptions } from './resnet-cifar.js';
export { modelComplexity, type ModelComplexity } from './complexity.js';
export { resnet18, type ResNet18Options } from './resnet18.js';
