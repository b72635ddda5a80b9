/**
 * Registers the built-in converters, one module per family, in the order
 * the supported classes are listed in errors.
 */
import { TritBatchNormalization } from '@trit/quant-core';
import { registerLayerConverter } from '../registry.js';
import { convertActivation, convertReLU, convertSoftmax } from './activations.js';
import { convertBatchNorm } from './batch-norm.js';
import { convertIdentity, convertStrayInput, IDENTITY_CLASSES } from './identity.js';
import { convertAdd, convertConcatenate } from './merge.js';
import { convertGlobalPool, convertPool2D } from './pooling.js';
import { convertFlatten, convertZeroPadding2D } from './reshape.js';
import { convertConv2D, convertDense, convertDepthwiseConv2D } from './weighted.js';

registerLayerConverter('InputLayer', convertStrayInput);
registerLayerConverter('TritQuantConv2D', convertConv2D);
registerLayerConverter('TritQuantDense', convertDense);
registerLayerConverter('Conv2D', convertConv2D);
registerLayerConverter('Dense', convertDense);
registerLayerConverter('DepthwiseConv2D', convertDepthwiseConv2D);
registerLayerConverter('BatchNormalization', convertBatchNorm);
registerLayerConverter(TritBatchNormalization.className, convertBatchNorm);
registerLayerConverter('Activation', convertActivation);
registerLayerConverter('ReLU', convertReLU);
registerLayerConverter('Softmax', convertSoftmax);
registerLayerConverter('Add', convertAdd);
registerLayerConverter('Concatenate', convertConcatenate);
registerLayerConverter('GlobalAveragePooling2D', convertGlobalPool);
registerLayerConverter('GlobalMaxPooling2D', convertGlobalPool);
registerLayerConverter('MaxPooling2D', convertPool2D);
registerLayerConverter('AveragePooling2D', convertPool2D);
registerLayerConverter('ZeroPadding2D', convertZeroPadding2D);
registerLayerConverter('Flatten', convertFlatten);
for (const cls of IDENTITY_CLASSES) registerLayerConverter(cls, convertIdentity);
