// Types of gpu-diagnose.mjs, for the engine's provider probe (the script itself stays plain Node).
export interface Smi { driver: string; cudaMajor: number; cudaMinor: number }
export type Route = 'cuda12' | 'cuda13';
export const CUDA13_PACKAGE: { name: string; version: string; ort: string; dir: string };
export const PROVIDER_FILES: string[];
export const ROUTES: Record<Route, { cuda: number; libs: string[] }>;
export function parseNvidiaSmi(text: string): Smi | null;
export function parseLdconfig(text: string): Map<string, string[]>;
export function addSearchPath(libs: Map<string, string[]>, ldLibraryPath: string | undefined, list?: (dir: string) => string[]): Map<string, string[]>;
export function plan(o: { ortVersion: string; smi: Smi | null; libs: Map<string, string[]>; route?: Route }): { route: Route; problems: string[] };
export function explainLoadError(message: string, route: Route): string;
export function diagnose(ortVersion: string, route?: Route): { smi: Smi | null; route: Route; problems: string[] };
