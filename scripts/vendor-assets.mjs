// Copy the pinned browser assets from node_modules into each UI's static/vendor folder (manage's
// operator UI and sim's simulator UI; sim never imports manage, so it serves its own copies).
// Runs as npm's postinstall, so `npm ci` recreates the (gitignored) vendor folders.
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const targets = ["manage", "sim"].map((app) =>
  join(root, "src", "depotgrid", app, "web", "static", "vendor"),
);
const assets = [
  "node_modules/htmx.org/dist/htmx.min.js",
  "node_modules/uplot/dist/uPlot.iife.min.js",
  "node_modules/uplot/dist/uPlot.min.css",
];

for (const target of targets) {
  mkdirSync(target, { recursive: true });
  for (const asset of assets) {
    const name = asset.split("/").pop();
    copyFileSync(join(root, asset), join(target, name));
    console.log(`vendored ${asset} -> ${target.slice(root.length + 1)}/${name}`);
  }
}
