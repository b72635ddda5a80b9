export { ChannelPadShortcut, type ChannelPadShortcutArgs } from './shortcut.js';
export { resnetCifar, type ResNetCifarOptions } from './resnet-cifar.js';
export { modelComplexity, type ModelComplexity } from './complexity.js';
