/**
 * How lat launches headless Chromium to run onnxruntime-web from Node (`lat bench --device
 * chromium`, the browser tests): Debian's binary, no sandbox or GPU, and none of the background
 * traffic (updates, sync, QUIC) a machine without network would stall on. Pass it to
 * playwright-core's `chromium.launch`.
 */
export const chromiumPath = '/usr/bin/chromium';

/** `chromium.launch` options: the binary at {@link chromiumPath} and its flags. */
export const headlessChromium: { executablePath: string; args: string[] } = {
  executablePath: chromiumPath,
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
    '--disable-quic',
  ],
};
