export { type ModelComplexity, modelComplexity } from './complexity.js';
export { type ResNetCifarOptions, resnetCifar } from './resnet-cifar.js';
export { type ResNet18Options, resnet18 } from './resnet18.js';
export { ChannelPadShortcut, type ChannelPadShortcutArgs } from './shortcut.js';
