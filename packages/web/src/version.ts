/** Changes with the assets, so a browser never keeps an old script or stylesheet. */
export const CONSOLE_VERSION = '2';
