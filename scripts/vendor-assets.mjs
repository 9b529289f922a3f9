// Copy the pinned browser assets from node_modules into the UI's static/vendor folder.
// Runs as npm's postinstall, so `npm ci` recreates the (gitignored) vendor folder.
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const target = join(root, "src", "depotgrid", "manage", "web", "static", "vendor");
const assets = [
  "node_modules/htmx.org/dist/htmx.min.js",
  "node_modules/uplot/dist/uPlot.iife.min.js",
  "node_modules/uplot/dist/uPlot.min.css",
];

mkdirSync(target, { recursive: true });
for (const asset of assets) {
  const source = join(root, asset);
  const name = asset.split("/").pop();
  copyFileSync(source, join(target, name));
  console.log(`vendored ${asset} -> static/vendor/${name}`);
}
