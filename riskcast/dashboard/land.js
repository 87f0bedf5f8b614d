// Coastlines for the overview map: Natural Earth's 1:110m land (public domain) as TopoJSON from
// world-atlas 2.0.2 (ISC), vendored in vendor/ so the map needs no tiles and no internet.
// Decoded once per page into rings of [lon, lat].

let loading = null;

/** The land rings, each unwrapped so it never jumps across the antimeridian. */
export function landRings() {
  loading ??= fetch("/static/vendor/land-110m.json").then((r) => r.json()).then(decode);
  return loading;
}

function decode(topo) {
  const [sx, sy] = topo.transform.scale;
  const [tx, ty] = topo.transform.translate;
  // Arcs are quantized and delta-encoded (TopoJSON specification, 2.1.2 and 2.2).
  const arcs = topo.arcs.map((arc) => {
    let x = 0;
    let y = 0;
    return arc.map(([dx, dy]) => { x += dx; y += dy; return [x * sx + tx, y * sy + ty]; });
  });
  const ring = (ids) => {
    const out = [];
    for (const id of ids) {
      const arc = id < 0 ? arcs[~id].slice().reverse() : arcs[id];
      out.push(...(out.length ? arc.slice(1) : arc)); // arcs share their end points
    }
    return unwrap(out);
  };
  const rings = [];
  for (const g of topo.objects.land.geometries) {
    const polygons = g.type === "Polygon" ? [g.arcs] : g.type === "MultiPolygon" ? g.arcs : [];
    for (const polygon of polygons) for (const r of polygon) rings.push(ring(r));
  }
  return rings;
}

// A ring crossing ±180° continues past it (181°, 182°...) instead of drawing a line back
// across the whole map; the part beyond the map's edge is simply not seen. The whole ring is
// then moved by 360° so that it starts west of 180°E (Eurasia runs from -10° to 190°).
function unwrap(points) {
  let shift = 0;
  const out = points.map(([lon, lat], i) => {
    if (i > 0) {
      const prev = points[i - 1][0];
      if (lon - prev > 180) shift -= 360;
      else if (prev - lon > 180) shift += 360;
    }
    return [lon + shift, lat];
  });
  const west = Math.min(...out.map((p) => p[0]));
  const k = Math.ceil((-180 - west) / 360 - 1e-9);
  return k ? out.map(([lon, lat]) => [lon + 360 * k, lat]) : out;
}
