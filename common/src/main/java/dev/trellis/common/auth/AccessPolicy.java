package dev.trellis.common.auth;

import static java.util.Objects.requireNonNull;

import io.grpc.MethodDescriptor;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

/**
 * Which credential each method of a server needs, deny by default: the policy names the methods
 * and services that are open or need the client token; every other method, including one added to
 * a service later, needs the admin token. Admin methods may be named too, so that a test can
 * check that every served method was classified on purpose ({@link #listed}). Immutable.
 */
public final class AccessPolicy {
    private final Map<String, Access> methods;
    private final Map<String, Access> services;

    private AccessPolicy(Map<String, Access> methods, Map<String, Access> services) {
        this.methods = Map.copyOf(methods);
        this.services = Map.copyOf(services);
    }

    public static Builder builder() {
        return new Builder();
    }

    /** The access a method needs: its own entry, else its service's, else ADMIN. */
    public Access access(MethodDescriptor<?, ?> method) {
        return listed(method).orElse(Access.ADMIN);
    }

    /** The access named for a method or its service; empty when the method is unclassified. */
    public Optional<Access> listed(MethodDescriptor<?, ?> method) {
        Access access = methods.get(method.getFullMethodName());
        if (access == null && method.getServiceName() != null) {
            access = services.get(method.getServiceName());
        }
        return Optional.ofNullable(access);
    }

    /** Collects the entries; not thread-safe. */
    public static final class Builder {
        private final Map<String, Access> methods = new HashMap<>();
        private final Map<String, Access> services = new HashMap<>();

        private Builder() {}

        /** Every method of a service, present and future, needs {@code access}. */
        public Builder service(String serviceName, Access access) {
            put(services, serviceName, access);
            return this;
        }

        public Builder method(MethodDescriptor<?, ?> method, Access access) {
            put(methods, method.getFullMethodName(), access);
            return this;
        }

        public Builder methods(Access access, MethodDescriptor<?, ?>... list) {
            for (MethodDescriptor<?, ?> method : list) {
                method(method, access);
            }
            return this;
        }

        private static void put(Map<String, Access> map, String name, Access access) {
            requireNonNull(name, "name is null");
            requireNonNull(access, "access is null");
            if (map.putIfAbsent(name, access) != null) {
                throw new IllegalArgumentException(name + " is classified twice");
            }
        }

        public AccessPolicy build() {
            return new AccessPolicy(methods, services);
        }
    }
}
