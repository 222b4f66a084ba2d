package dev.trellis.modelserver.config;

import static java.util.Objects.requireNonNull;

import java.util.Arrays;
import java.util.Collection;
import java.util.Set;
import java.util.SortedSet;
import java.util.TreeSet;
import java.util.stream.Collectors;

/**
 * Which of a model's versions on disk are served (TF Serving / Triton semantics):
 * {@code latest:N} the N highest, {@code all} every one, {@code specific:1,3} exactly those.
 */
public sealed interface VersionPolicy {
    /** Selects the versions to serve among {@code candidates}; the result is sorted ascending. */
    SortedSet<Integer> select(Collection<Integer> candidates);

    static VersionPolicy parse(String text) {
        requireNonNull(text, "text is null");
        String value = text.trim();
        if (value.equals("all")) {
            return new All();
        }
        if (value.startsWith("latest:")) {
            try {
                return new Latest(
                        Integer.parseInt(value.substring("latest:".length()).trim()));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(
                        "invalid version policy '" + text + "': latest:N needs an integer N");
            }
        }
        if (value.startsWith("specific:")) {
            try {
                return new Specific(
                        Arrays.stream(value.substring("specific:".length()).split(","))
                                .map(String::trim)
                                .map(Integer::parseInt)
                                .collect(Collectors.toUnmodifiableSet()));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(
                        "invalid version policy '" + text + "': specific:1,3 needs integer versions");
            }
        }
        throw new IllegalArgumentException(
                "invalid version policy '" + text + "': expected latest:N, all, or specific:V1,V2");
    }

    record Latest(int count) implements VersionPolicy {
        public Latest {
            if (count < 1) {
                throw new IllegalArgumentException("latest:N needs N >= 1");
            }
        }

        @Override
        public SortedSet<Integer> select(Collection<Integer> candidates) {
            TreeSet<Integer> sorted = new TreeSet<>(candidates);
            TreeSet<Integer> selected = new TreeSet<>();
            for (Integer version : sorted.descendingSet()) {
                if (selected.size() == count) {
                    break;
                }
                selected.add(version);
            }
            return selected;
        }

        @Override
        public String toString() {
            return "latest:" + count;
        }
    }

    record All() implements VersionPolicy {
        @Override
        public SortedSet<Integer> select(Collection<Integer> candidates) {
            return new TreeSet<>(candidates);
        }

        @Override
        public String toString() {
            return "all";
        }
    }

    record Specific(Set<Integer> versions) implements VersionPolicy {
        public Specific {
            versions = Set.copyOf(requireNonNull(versions, "versions is null"));
            if (versions.isEmpty()) {
                throw new IllegalArgumentException("specific: needs at least one version");
            }
        }

        @Override
        public SortedSet<Integer> select(Collection<Integer> candidates) {
            TreeSet<Integer> selected = new TreeSet<>(candidates);
            selected.retainAll(versions);
            return selected;
        }

        @Override
        public String toString() {
            return "specific:"
                    + new TreeSet<>(versions).stream().map(String::valueOf).collect(Collectors.joining(","));
        }
    }
}
