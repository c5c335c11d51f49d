/** A bounded poll for what a real process or server does in its own time: a fixed number of looks, then a clear failure. */
export async function waitFor<T>(probe: () => Promise<T | undefined | false> | T | undefined | false, what: string, o: { looks?: number; everyMs?: number } = {}): Promise<T> {
  const looks = o.looks ?? 600;
  for (let i = 0; i < looks; i++) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    await new Promise((r) => setTimeout(r, o.everyMs ?? 50));
  }
  throw new Error(`${what}: not seen after ${looks} looks ${o.everyMs ?? 50} ms apart`);
}
