package dev.trellis.router.upstream;

import static java.util.Objects.requireNonNull;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;

/**
 * Where the model-server replicas are: either a static list of {@code host:port} addresses or one
 * {@code dns:///name:port} name (a Kubernetes headless Service). The pool channel gets one target
 * string; the catalog resolves the individual replica addresses itself to poll each one.
 */
public record UpstreamTargets(List<HostPort> staticAddresses, String dnsHost, int dnsPort) {
    public UpstreamTargets {
        staticAddresses = List.copyOf(requireNonNull(staticAddresses, "staticAddresses is null"));
        if (staticAddresses.isEmpty() == (dnsHost == null)) {
            throw new IllegalArgumentException("give either host:port addresses or one dns:/// name");
        }
    }

    /** Parses --upstream values: each may be a comma list; "dns:///name:port" must stand alone. */
    public static UpstreamTargets parse(List<String> values) {
        List<String> entries = new ArrayList<>();
        for (String value : values) {
            for (String part : value.split(",")) {
                if (!part.isBlank()) {
                    entries.add(part.trim());
                }
            }
        }
        if (entries.isEmpty()) {
            throw new IllegalArgumentException("no upstream given");
        }
        List<String> dns = entries.stream()
                .filter(e -> e.toLowerCase(Locale.ROOT).startsWith("dns:"))
                .toList();
        if (!dns.isEmpty()) {
            if (entries.size() != 1) {
                throw new IllegalArgumentException(
                        "a dns:/// upstream cannot be mixed with other upstreams: " + entries);
            }
            String rest = dns.get(0).substring("dns:".length());
            rest = rest.startsWith("///") ? rest.substring(3) : rest.replaceFirst("^//[^/]*/", "");
            HostPort hp = HostPort.parse(rest, 8081);
            return new UpstreamTargets(List.of(), hp.host(), hp.port());
        }
        LinkedHashSet<HostPort> addresses = new LinkedHashSet<>();
        for (String entry : entries) {
            addresses.add(HostPort.parse(entry.startsWith("static:///") ? entry.substring(10) : entry, 8081));
        }
        return new UpstreamTargets(List.copyOf(addresses), null, 0);
    }

    public boolean isDns() {
        return dnsHost != null;
    }

    /** The target of the pool channel. */
    public String channelTarget() {
        if (isDns()) {
            return "dns:///" + dnsHost + ":" + dnsPort;
        }
        return StaticNameResolverProvider.SCHEME + ":///"
                + String.join(
                        ",", staticAddresses.stream().map(HostPort::toString).toList());
    }

    /** The replica addresses right now (a DNS lookup for dns targets). */
    public List<HostPort> resolveReplicas() throws UnknownHostException {
        if (!isDns()) {
            return staticAddresses;
        }
        List<HostPort> replicas = new ArrayList<>();
        for (InetAddress address : InetAddress.getAllByName(dnsHost)) {
            replicas.add(new HostPort(address.getHostAddress(), dnsPort));
        }
        return List.copyOf(replicas);
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
