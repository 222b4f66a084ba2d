package dev.trellis.ensemble.data;

import static java.util.Objects.requireNonNull;

import java.util.Set;

/**
 * User overrides of schema inference: columns forced categorical, forced numeric (a non-number is
 * then an error naming the row), or dropped.
 */
public record SchemaOverrides(Set<String> categorical, Set<String> numeric, Set<String> drop) {
    public SchemaOverrides {
        categorical = Set.copyOf(requireNonNull(categorical, "categorical is null"));
        numeric = Set.copyOf(requireNonNull(numeric, "numeric is null"));
        drop = Set.copyOf(requireNonNull(drop, "drop is null"));
        for (String name : categorical) {
            if (numeric.contains(name)) {
                throw new IllegalArgumentException("column " + name + " is forced both categorical and numeric");
            }
        }
    }

    public static SchemaOverrides none() {
        return new SchemaOverrides(Set.of(), Set.of(), Set.of());
    }
}
