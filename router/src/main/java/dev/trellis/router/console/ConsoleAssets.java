package dev.trellis.router.console;

import com.sun.net.httpserver.Headers;
import com.sun.net.httpserver.HttpExchange;
import dev.trellis.common.grpc.WireError;
import dev.trellis.common.http.HttpAnswers;
import io.grpc.Status;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Map;

/**
 * The console's files: a fixed set of hand-written HTML, CSS and JavaScript modules from the
 * classpath (no build step, no framework), read once. Only these names are served, so no path
 * reaches anything else. Every answer carries a Content-Security-Policy that allows only this
 * origin's scripts, styles and calls, and forbids framing. Thread-safe (immutable).
 */
final class ConsoleAssets {
    private static final String ROOT = "/dev/trellis/router/console/";
    private static final Map<String, String> TYPES = Map.of(
            "index.html", "text/html; charset=utf-8",
            "console.css", "text/css; charset=utf-8",
            "console.js", "text/javascript; charset=utf-8",
            "api.js", "text/javascript; charset=utf-8",
            "charts.js", "text/javascript; charset=utf-8",
            "format.js", "text/javascript; charset=utf-8",
            "views.js", "text/javascript; charset=utf-8");
    static final String CONTENT_SECURITY_POLICY = "default-src 'none'; script-src 'self'; style-src 'self'; "
            + "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    private final Map<String, byte[]> files;

    ConsoleAssets() {
        Map<String, byte[]> loaded = new java.util.HashMap<>();
        for (String name : TYPES.keySet()) {
            try (InputStream in = ConsoleAssets.class.getResourceAsStream(ROOT + name)) {
                if (in == null) {
                    throw new IllegalStateException("console file missing from the classpath: " + ROOT + name);
                }
                loaded.put(name, in.readAllBytes());
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read console file " + name, e);
            }
        }
        this.files = Map.copyOf(loaded);
    }

    void handle(HttpExchange exchange) throws IOException {
        try (exchange) {
            String path = exchange.getRequestURI().getPath();
            String name = path.equals("/") ? "index.html" : path.substring(1);
            byte[] body = files.get(name);
            if (body == null) {
                HttpAnswers.error(
                        exchange,
                        WireError.of(
                                Status.Code.NOT_FOUND,
                                "NOT_FOUND",
                                "no such page: " + path + " (the console is at /)"));
                return;
            }
            if (!exchange.getRequestMethod().equals("GET")
                    && !exchange.getRequestMethod().equals("HEAD")) {
                HttpAnswers.error(
                        exchange,
                        WireError.of(
                                Status.Code.UNIMPLEMENTED,
                                "METHOD_NOT_ALLOWED",
                                path + " takes GET, not " + exchange.getRequestMethod()));
                return;
            }
            Headers headers = exchange.getResponseHeaders();
            headers.set("Content-Security-Policy", CONTENT_SECURITY_POLICY);
            headers.set("X-Content-Type-Options", "nosniff");
            headers.set("Referrer-Policy", "no-referrer");
            headers.set("Cache-Control", "no-cache");
            if (exchange.getRequestMethod().equals("HEAD")) {
                headers.set("Content-Type", TYPES.get(name));
                exchange.sendResponseHeaders(200, -1);
                return;
            }
            HttpAnswers.send(exchange, 200, TYPES.get(name), body);
        }
    }
}
