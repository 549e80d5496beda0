/* The console's maps: markers, tracks and polygons from the page's JSON, drawn with the vendored Leaflet.
 * Without a tile URL (development, tests) the basemap is blank and nothing is fetched from outside. When the
 * tiles are a Chinese provider's (GCJ-02), positions are shifted from WGS84 on the way to the map. */
(function () {
  "use strict";

  var PI = Math.PI, A = 6378245.0, EE = 0.00669342162296594323;
  function outOfChina(lat, lng) { return lng < 72.004 || lng > 137.8347 || lat < 0.8293 || lat > 55.8271; }
  function tLat(x, y) {
    var r = -100 + 2 * x + 3 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x));
    r += (20 * Math.sin(6 * x * PI) + 20 * Math.sin(2 * x * PI)) * 2 / 3;
    r += (20 * Math.sin(y * PI) + 40 * Math.sin(y / 3 * PI)) * 2 / 3;
    return r + (160 * Math.sin(y / 12 * PI) + 320 * Math.sin(y * PI / 30)) * 2 / 3;
  }
  function tLng(x, y) {
    var r = 300 + x + 2 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x));
    r += (20 * Math.sin(6 * x * PI) + 20 * Math.sin(2 * x * PI)) * 2 / 3;
    r += (20 * Math.sin(x * PI) + 40 * Math.sin(x / 3 * PI)) * 2 / 3;
    return r + (150 * Math.sin(x / 12 * PI) + 300 * Math.sin(x / 30 * PI)) * 2 / 3;
  }
  function toGcj02(lat, lng) {
    if (outOfChina(lat, lng)) { return [lat, lng]; }
    var dLat = tLat(lng - 105, lat - 35), dLng = tLng(lng - 105, lat - 35);
    var rad = lat / 180 * PI, magic = 1 - EE * Math.sin(rad) * Math.sin(rad), sq = Math.sqrt(magic);
    dLat = dLat * 180 / ((A * (1 - EE)) / (magic * sq) * PI);
    dLng = dLng * 180 / (A / sq * Math.cos(rad) * PI);
    return [lat + dLat, lng + dLng];
  }

  function draw(element, data) {
    var shift = element.dataset.gcj02 === "true" ? toGcj02 : function (lat, lng) { return [lat, lng]; };
    var map = L.map(element, { attributionControl: !!element.dataset.tiles });
    if (element.dataset.tiles) {
      L.tileLayer(element.dataset.tiles, { maxZoom: 19, attribution: "&copy; OpenStreetMap contributors" }).addTo(map);
    }
    var layers = [];
    (data.markers || []).forEach(function (m) {
      var marker = L.circleMarker(shift(m.lat, m.lng), {
        radius: 7, color: m.verified ? "#1d6b2f" : "#a31515", fillOpacity: 0.8
      }).bindTooltip(m.label + (m.flags && m.flags.length ? " (" + m.flags.join(", ") + ")" : ""));
      if (m.href) { marker.on("click", function () { window.location.href = m.href; }); }
      layers.push(marker.addTo(map));
    });
    (data.lines || []).forEach(function (line) {
      var points = line.coordinates.map(function (c) { return shift(c[1], c[0]); });
      layers.push(L.polyline(points, { color: "#0b5cad", weight: 3 }).addTo(map));
    });
    (data.polygons || []).forEach(function (p) {
      var layer = L.geoJSON(p.geometry, {
        coordsToLatLng: function (c) { var s = shift(c[1], c[0]); return L.latLng(s[0], s[1]); }
      }).bindTooltip(p.name);
      layers.push(layer.addTo(map));
    });
    (data.cells || []).forEach(function (c) {
      var corners = [shift(c.bounds[0][0], c.bounds[0][1]), shift(c.bounds[1][0], c.bounds[1][1])];
      layers.push(L.rectangle(corners, {
        stroke: false, fillColor: "#c0392b", fillOpacity: 0.1 + 0.7 * c.level, className: "heat-cell"
      }).bindTooltip(c.label).addTo(map));
    });
    var group = L.featureGroup(layers);
    if (layers.length) { map.fitBounds(group.getBounds().pad(0.2), { maxZoom: 17 }); } else { map.setView([30.26, 120.17], 12); }
    return map;
  }

  function enableDrawing(map) {
    var drawn = new L.FeatureGroup().addTo(map);
    map.addControl(new L.Control.Draw({
      draw: { polygon: { allowIntersection: true, showArea: false }, polyline: false, rectangle: false,
              circle: false, marker: false, circlemarker: false },
      edit: { featureGroup: drawn }
    }));
    function store() {
      var field = document.getElementById("geometry");
      var shapes = drawn.toGeoJSON().features.map(function (f) { return f.geometry.coordinates; });
      field.value = shapes.length ? JSON.stringify({ type: "MultiPolygon", coordinates: shapes }) : "";
    }
    map.on(L.Draw.Event.CREATED, function (event) { drawn.addLayer(event.layer); store(); });
    map.on(L.Draw.Event.EDITED, store);
    map.on(L.Draw.Event.DELETED, store);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var main = document.getElementById("map"), source = document.getElementById("map-data");
    if (main && source) {
      var map = draw(main, JSON.parse(source.textContent));
      if (main.dataset.draw === "true") { enableDrawing(map); }
      var problem = document.getElementById("geometry-error");
      var where = problem && JSON.parse(problem.textContent);
      if (where && where.location) {
        L.circleMarker([where.location[1], where.location[0]], { radius: 10, color: "#a31515" })
          .bindTooltip(where.reason || where.code, { permanent: true }).addTo(map);
      }
    }
    document.querySelectorAll(".map[data-map]").forEach(function (element) {
      draw(element, JSON.parse(element.dataset.map));
    });
    document.body.addEventListener("htmx:configRequest", function (event) {
      event.detail.headers["X-CSRFToken"] = document.querySelector('meta[name="csrf-token"]').content;
    });
  });
}());
