// Test-only preload (`node --import tsx --import this`): simulates a full disk. Files opened for writing
// whose path contains $SAIL_TEST_ENOSPC get half their first write, then ENOSPC, like a real disk
// filling up; the first $SAIL_TEST_ENOSPC_AFTER such files are written normally. Production code is
// unchanged: its real cleanup paths run.
import { promises as fs } from 'node:fs';

const match = process.env.SAIL_TEST_ENOSPC ?? '';
let after = Number(process.env.SAIL_TEST_ENOSPC_AFTER ?? '0');
const realOpen = fs.open;

fs.open = (async (path: Parameters<typeof fs.open>[0], flags?: Parameters<typeof fs.open>[1], mode?: Parameters<typeof fs.open>[2]) => {
  const handle = await realOpen(path, flags, mode);
  if (!match || flags !== 'w' || !String(path).includes(match)) return handle;
  if (after > 0) {
    after -= 1;
    return handle;
  }
  const realWriteFile = handle.writeFile.bind(handle);
  handle.writeFile = (async (data: string | Uint8Array) => {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    await realWriteFile(bytes.subarray(0, Math.floor(bytes.length / 2)));
    throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' });
  }) as typeof handle.writeFile;
  return handle;
}) as typeof fs.open;
