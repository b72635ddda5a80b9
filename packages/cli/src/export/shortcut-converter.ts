/**
 * The export of the CLI's own ResNet layer, `ChannelPadShortcut` (the
 * option-A shortcut), registered with `@trit/export` on import: a
 * `subsample` op for the stride, then a `zeroPad` op for the extra channels.
 */
import { type LayerConverter, registerLayerConverter } from '@trit/export';
import { ChannelPadShortcut } from '../models/shortcut.js';

/** Option A: `x[:, ::s, ::s, :]`, then symmetric zero channels (`floor(extra / 2)` before). */
export const convertChannelPadShortcut: LayerConverter = (ctx) => {
  const input = ctx.input();
  const sc = ctx.layer as unknown as ChannelPadShortcut;
  const stride = sc.stride;
  const cin = ctx.inputShapes()[0]![3] as number;
  const extra = sc.outChannels - cin;
  if (!Number.isInteger(stride) || stride < 1)
    ctx.fail(`stride ${stride} is not a positive integer`);
  if (extra < 0) ctx.fail(`outChannels ${sc.outChannels} is less than the ${cin} input channels`);
  const before = Math.floor(extra / 2);
  const name = ctx.layer.name;
  const sub = `${name}/subsample`;
  return {
    ops: [
      ...(stride !== 1
        ? [{ op: 'subsample' as const, name: sub, inputs: [input] as [string], strides: stride }]
        : []),
      ...(extra > 0
        ? [
            {
              op: 'zeroPad' as const,
              name,
              inputs: [stride !== 1 ? sub : input] as [string],
              channels: [before, extra - before] as [number, number],
            },
          ]
        : []),
    ],
    output: extra > 0 ? name : stride !== 1 ? sub : input,
  };
};

registerLayerConverter(ChannelPadShortcut.className, convertChannelPadShortcut);
