/** The one IPC channel between the preload and the main process: it carries app/channels.ts's wire. */
export const IPC_CHANNEL = 'studio:wire';
/** The renderer is served from this origin only (a privileged custom scheme, not file://). */
export const APP_ORIGIN = 'app://studio';
