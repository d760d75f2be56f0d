// Run a Python file under MicroPython's WebAssembly port (npm
// @micropython/micropython-webassembly-pyscript) in Node, printing its stdout.
//
//   node tools/mpwasm/run.mjs SCRIPT.py [MODULE_DIR_OR_FILE ...]
//
// Every .py file named (or found directly in a directory named) after the script is
// copied into the port's filesystem under /lib, which is on sys.path, so the script can
// import it as a flat module, as it would on a board. The exit code is 0 when the script
// ran to its end, 1 when it raised (the traceback goes to stderr).
import { readFileSync, readdirSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript";

const [script, ...modules] = process.argv.slice(2);
if (!script) {
  process.stderr.write("usage: node run.mjs SCRIPT.py [MODULE_DIR_OR_FILE ...]\n");
  process.exit(2);
}
let stderr = "";
const mp = await loadMicroPython({
  heapsize: 8 * 1024 * 1024,
  stdout: (line) => process.stdout.write(line + "\n"),
  stderr: (line) => { stderr += line + "\n"; },
});
mp.FS.mkdir("/lib");
for (const item of modules) {
  const files = statSync(item).isDirectory()
    ? readdirSync(item).filter((n) => n.endsWith(".py")).map((n) => join(item, n))
    : [item];
  for (const file of files) {
    mp.FS.writeFile("/lib/" + basename(file), readFileSync(file));
  }
}
try {
  mp.runPython("import sys\nsys.path.insert(0, '/lib')");
  mp.runPython(readFileSync(script, "utf8"));
} catch (error) {
  process.stderr.write(stderr + String(error && error.message ? error.message : error) + "\n");
  process.exit(1);
}
process.stderr.write(stderr);
