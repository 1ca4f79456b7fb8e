import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { identityModel } from '../onnx/model-proto';

export interface Adapter {
  /** As the driver names it: "llvmpipe (LLVM 15.0.6, 256 bits)". */
  name: string;
  /** A CPU rasteriser posing as a GPU (Mesa's llvmpipe/lavapipe, SwiftShader, WARP). */
  software: boolean;
}

const SOFTWARE = /llvmpipe|lavapipe|softpipe|swiftshader|basic render driver|warp/i;

/**
 * The devices the Vulkan loader lists ("linux_read_sorted_physical_devices:" then "[0] name"),
 * as VK_LOADER_DEBUG=driver prints them. Dawn takes a hardware device before a CPU one, so the
 * adapter is the first hardware device, or the software one when there is nothing else.
 */
export function adapterFromLoaderLog(log: string): Adapter | undefined {
  const names = [...new Set([...log.matchAll(/DRIVER:\s+\[\d+\] (.+?)\s*$/gm)].map((m) => m[1]!))];
  const hw = names.find((n) => !SOFTWARE.test(n));
  const name = hw ?? names[0];
  return name ? { name, software: !hw } : undefined;
}

/** "webgpu — software adapter llvmpipe": what the studio and results call the provider that ran. */
export function providerLabel(provider: string, adapter: Adapter | undefined): string {
  if (provider !== 'webgpu') return provider;
  if (!adapter) return 'webgpu (adapter not identified)';
  const short = adapter.name.replace(/\s*\(.*$/, '');
  return `webgpu — ${adapter.software ? 'software adapter' : 'adapter'} ${short}`;
}

let probed: Promise<Adapter | undefined> | undefined;

/**
 * Which adapter onnxruntime's WebGPU provider gets. onnxruntime-node exposes no adapter info
 * (env.webgpu.adapter is the browser's), so a child process opens a WebGPU session with the
 * Vulkan loader's driver log on and we read the devices it lists. Linux (Vulkan) only; elsewhere
 * the adapter stays unidentified and is labelled so. Once per process.
 */
export function probeWebgpuAdapter(): Promise<Adapter | undefined> {
  if (process.platform !== 'linux') return Promise.resolve(undefined);
  probed ??= new Promise((resolve) => {
    const ortPath = createRequire(import.meta.url).resolve('onnxruntime-node');
    const model = Buffer.from(identityModel()).toString('base64');
    const code = `require(${JSON.stringify(ortPath)}).InferenceSession.create(Buffer.from('${model}', 'base64'), { executionProviders: ['webgpu'], logSeverityLevel: 4 }).then(() => process.exit(0), () => process.exit(1))`;
    // ELECTRON_RUN_AS_NODE: under Electron, execPath is the app, which must act as plain Node here
    const env = { ...process.env, VK_LOADER_DEBUG: 'driver', ELECTRON_RUN_AS_NODE: '1' };
    execFile(process.execPath, ['-e', code], { env, timeout: 60_000, maxBuffer: 8 << 20 }, (_err, _out, stderr) => resolve(adapterFromLoaderLog(String(stderr))));
  });
  return probed;
}
