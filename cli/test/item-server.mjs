// A keep-alive JSON API on Node's http module answering every request with a record of about 1 KiB: the traced
// server of the `adi up` saturation test. Usage: node item-server.mjs <port>; prints "listening" when it is.
import { createServer } from "node:http";

const port = Number(process.argv[2]);
const item = (n) => ({
  id: n,
  sku: `SKU-${String(n % 100000).padStart(6, "0")}`,
  name: "Stainless steel insulated water bottle, 750 ml",
  description:
    "Double-walled vacuum insulation keeps drinks cold for 24 hours and hot for 12. Leak-proof lid, powder-coated finish, dishwasher safe.",
  price: { amount: 2499 + (n % 7), currency: "EUR" },
  stock: { warehouse: "eu-west-1", available: 100 + (n % 50), reserved: n % 5 },
  tags: ["outdoor", "kitchen", "travel", "insulated", "steel", "gift"],
  dimensions: { heightMm: 265, diameterMm: 73, weightG: 390 },
  ratings: { average: 4.6, count: 1873, distribution: [12, 31, 88, 402, 1340] },
  seller: { id: "s-4821", name: "Example Outdoor Supplies GmbH", country: "DE", verified: true },
  shipping: { days: 2, free: true, methods: ["standard", "express", "pickup"] },
  variants: [
    { sku: "SKU-BLK-750", colour: "black", inStock: true },
    { sku: "SKU-WHT-750", colour: "white", inStock: true },
    { sku: "SKU-GRN-750", colour: "forest green", inStock: false },
  ],
  warranty: { months: 24, provider: "manufacturer" },
  updatedAt: "2026-03-14T09:26:53.000Z",
});
let n = 0;
const server = createServer({ keepAlive: true, keepAliveTimeout: 60_000 }, (req, res) => {
  const body = JSON.stringify(item(n++));
  res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
});
server.listen(port, "127.0.0.1", () => process.stdout.write("listening\n"));
const quit = () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
};
process.on("SIGTERM", quit);
process.on("SIGINT", quit);
