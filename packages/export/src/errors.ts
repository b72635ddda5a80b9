/** A problem the export cannot map exactly: the message names the layer and its class. */
export class ExportError extends Error {
  constructor(
    message: string,
    /** Name of the layer at fault, when there is one. */
    readonly layer?: string,
  ) {
    super(message);
    this.name = 'ExportError';
  }
}
