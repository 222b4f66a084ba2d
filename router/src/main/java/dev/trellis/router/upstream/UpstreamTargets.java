package dev.trellis.router.upstream;

import static java.util.Objects.requireNonNull;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Where the model-server replicas are: any mix of {@code host:port} addresses and
 * {@code dns:///name:port} names (Kubernetes headless Services), each {@code --upstream} a pool of its
 * own, all merged into one catalog. A replica is named, everywhere (ListModels, served.replica, logs),
 * by its address as configured ({@code host:port}) or, behind a DNS name, as resolved
 * ({@code ip:port}).
 */
public record UpstreamTargets(List<HostPort> staticAddresses, List<HostPort> dnsNames) {
    public UpstreamTargets {
        staticAddresses = List.copyOf(requireNonNull(staticAddresses, "staticAddresses is null"));
        dnsNames = List.copyOf(requireNonNull(dnsNames, "dnsNames is null"));
        if (staticAddresses.isEmpty() && dnsNames.isEmpty()) {
            throw new IllegalArgumentException("no upstream given");
        }
    }

    /** Parses --upstream values: each may be a comma list of host:port and dns:///name:port entries. */
    public static UpstreamTargets parse(List<String> values) {
        LinkedHashSet<HostPort> addresses = new LinkedHashSet<>();
        LinkedHashSet<HostPort> names = new LinkedHashSet<>();
        for (String value : values) {
            for (String part : value.split(",")) {
                String entry = part.trim();
                if (entry.isEmpty()) {
                    continue;
                }
                if (entry.toLowerCase(Locale.ROOT).startsWith("dns:")) {
                    String rest = entry.substring("dns:".length());
                    rest = rest.startsWith("///") ? rest.substring(3) : rest.replaceFirst("^//[^/]*/", "");
                    names.add(HostPort.parse(rest, 8081));
                } else {
                    addresses.add(HostPort.parse(entry.startsWith("static:///") ? entry.substring(10) : entry, 8081));
                }
            }
        }
        return new UpstreamTargets(List.copyOf(addresses), List.copyOf(names));
    }

    /**
     * The replicas right now: every static address as given, and a DNS lookup of every name. A name
     * that does not resolve contributes no replica and a problem.
     */
    public Resolution resolve() {
        Map<String, Replica> replicas = new LinkedHashMap<>();
        List<String> problems = new ArrayList<>();
        for (HostPort address : staticAddresses) {
            replicas.putIfAbsent(
                    address.toString(),
                    new Replica(address.toString(), address.host(), address.port(), address.host()));
        }
        for (HostPort name : dnsNames) {
            try {
                for (InetAddress ip : InetAddress.getAllByName(name.host())) {
                    HostPort resolved = new HostPort(ip.getHostAddress(), name.port());
                    replicas.putIfAbsent(
                            resolved.toString(),
                            new Replica(resolved.toString(), resolved.host(), resolved.port(), name.host()));
                }
            } catch (UnknownHostException e) {
                problems.add("cannot resolve dns:///" + name + ": " + e.getMessage());
            }
        }
        return new Resolution(List.copyOf(replicas.values()), problems);
    }

    @Override
    public String toString() {
        List<String> entries = new ArrayList<>();
        staticAddresses.forEach(a -> entries.add(a.toString()));
        dnsNames.forEach(n -> entries.add("dns:///" + n));
        return String.join(",", entries);
    }

    /** The replicas found by {@link #resolve}, and the names that did not resolve. */
    public record Resolution(List<Replica> replicas, List<String> problems) {
        public Resolution {
            replicas = List.copyOf(requireNonNull(replicas, "replicas is null"));
            problems = List.copyOf(requireNonNull(problems, "problems is null"));
        }
    }

    /**
     * One replica.
     *
     * @param name how the router names it: the configured host:port, or ip:port behind a DNS name
     * @param host what to connect to (a host name is looked up again on every catalog refresh)
     * @param authorityHost the host TLS verifies the replica's certificate against (the DNS name for
     *     replicas found through one)
     */
    public record Replica(String name, String host, int port, String authorityHost) {
        public Replica {
            requireNonNull(name, "name is null");
            requireNonNull(host, "host is null");
            requireNonNull(authorityHost, "authorityHost is null");
        }

        /** host:port for TLS verification. */
        public String authority() {
            return new HostPort(authorityHost, port).toString();
        }
    }

    /** One host:port. */
    public record HostPort(String host, int port) {
        public HostPort {
            requireNonNull(host, "host is null");
            if (host.isBlank()) {
                throw new IllegalArgumentException("host is blank");
            }
            if (port <= 0 || port > 65535) {
                throw new IllegalArgumentException("port must be 1..65535, was " + port);
            }
        }

        static HostPort parse(String value, int defaultPort) {
            String v = value.trim();
            if (v.startsWith("[")) {
                int close = v.indexOf(']');
                if (close < 0) {
                    throw new IllegalArgumentException("bad IPv6 address: " + value);
                }
                String host = v.substring(1, close);
                String rest = v.substring(close + 1);
                return new HostPort(host, rest.startsWith(":") ? parsePort(rest.substring(1), value) : defaultPort);
            }
            int colon = v.lastIndexOf(':');
            if (colon < 0) {
                return new HostPort(v, defaultPort);
            }
            return new HostPort(v.substring(0, colon), parsePort(v.substring(colon + 1), value));
        }

        private static int parsePort(String port, String value) {
            try {
                return Integer.parseInt(port);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("bad port in upstream " + value);
            }
        }

        @Override
        public String toString() {
            return host.contains(":") ? "[" + host + "]:" + port : host + ":" + port;
        }
    }
}
