package dev.trellis.experiments.store;

import static java.util.Objects.requireNonNull;

import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A PostgreSQL store location as given to {@code --store}: {@code postgresql://[user@]host[:port]/database[?param=value&...]}
 * (also {@code postgres://}). The password never travels in the URL: it comes from a file or an
 * environment variable, so it is not on any command line. Parameters are passed to the JDBC
 * driver (e.g. {@code sslmode=require}).
 */
public record PostgresLocation(String host, int port, String database, String user, Map<String, String> parameters) {
    public PostgresLocation {
        requireNonNull(host, "host is null");
        requireNonNull(database, "database is null");
        requireNonNull(user, "user is null");
        parameters = Map.copyOf(requireNonNull(parameters, "parameters is null"));
    }

    /** Whether a {@code --store} value names a PostgreSQL database rather than a SQLite file. */
    public static boolean matches(String store) {
        return store.startsWith("postgresql://") || store.startsWith("postgres://");
    }

    /** @throws IllegalArgumentException with a message naming what is wrong (the password never echoed) */
    public static PostgresLocation parse(String store) {
        requireNonNull(store, "store is null");
        if (!matches(store)) {
            throw new IllegalArgumentException("not a PostgreSQL URL (postgresql://user@host:port/database)");
        }
        URI uri;
        try {
            uri = new URI(store);
        } catch (URISyntaxException e) {
            throw new IllegalArgumentException("--store is not a valid URL: " + e.getReason());
        }
        String userInfo = uri.getRawUserInfo();
        if (userInfo != null && userInfo.contains(":")) {
            throw new IllegalArgumentException("--store must not contain the password: put it in --store-password-file"
                    + " or the environment variable TRELLIS_STORE_PASSWORD");
        }
        Map<String, String> params = new LinkedHashMap<>();
        if (uri.getRawQuery() != null) {
            for (String pair : uri.getRawQuery().split("&")) {
                if (pair.isEmpty()) {
                    continue;
                }
                int eq = pair.indexOf('=');
                String name = decode(eq < 0 ? pair : pair.substring(0, eq));
                String value = eq < 0 ? "" : decode(pair.substring(eq + 1));
                params.put(name, value);
            }
        }
        if (params.containsKey("password")) {
            throw new IllegalArgumentException("--store must not contain the password: put it in --store-password-file"
                    + " or the environment variable TRELLIS_STORE_PASSWORD");
        }
        String user = params.remove("user");
        if (userInfo != null) {
            user = decode(userInfo);
        }
        if (uri.getHost() == null || uri.getHost().isEmpty()) {
            throw new IllegalArgumentException("--store needs a host: postgresql://user@host:5432/database");
        }
        String path = uri.getPath() == null ? "" : uri.getPath();
        String database = path.startsWith("/") ? path.substring(1) : path;
        if (database.isEmpty() || database.contains("/")) {
            throw new IllegalArgumentException("--store needs a database name: postgresql://user@host:5432/database");
        }
        if (user == null || user.isEmpty()) {
            throw new IllegalArgumentException("--store needs a user: postgresql://user@host:5432/database");
        }
        return new PostgresLocation(uri.getHost(), uri.getPort() < 0 ? 5432 : uri.getPort(), database, user, params);
    }

    private static String decode(String s) {
        return URLDecoder.decode(s, StandardCharsets.UTF_8);
    }

    /** The JDBC URL, without credentials. */
    public String jdbcUrl() {
        StringBuilder url = new StringBuilder("jdbc:postgresql://")
                .append(host.contains(":") ? "[" + host + "]" : host)
                .append(':')
                .append(port)
                .append('/')
                .append(database);
        return url.toString();
    }

    /** For messages: where, as whom, never a password. */
    @Override
    public String toString() {
        return "postgresql://" + user + "@" + host + ":" + port + "/" + database;
    }
}
