// Run a Python script under MicroPython's official WebAssembly port (Node 20).
// usage: node run.mjs SCRIPT.py [MODULE_DIR ...]
// Every .py file in each MODULE_DIR is copied into MicroPython's file system at /lib
// (importable by its name); the script's output goes to stdout, an uncaught Python
// error makes the exit status 1.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript";

const [script, ...dirs] = process.argv.slice(2);
if (!script) {
  process.stderr.write("usage: node run.mjs SCRIPT.py [MODULE_DIR ...]\n");
  process.exit(2);
}
const mp = await loadMicroPython({
  heapsize: 8 * 1024 * 1024,
  stdout: (data) => process.stdout.write(data),
  stderr: (data) => process.stderr.write(data),
  linebuffer: false,
});
mp.FS.mkdir("/lib");
for (const dir of dirs) {
  for (const name of readdirSync(dir)) {
    if (name.endsWith(".py")) {
      mp.FS.writeFile(join("/lib", name), readFileSync(join(dir, name)));
    }
  }
}
try {
  mp.runPython("import sys\nsys.path.insert(0, '/lib')\n" + readFileSync(script, "utf8"));
} catch (error) {
  process.stderr.write(String(error.message || error) + "\n");
  process.exit(1);
}
