package dev.trellis.modelserver.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;

class VersionPolicyTest {
    @Test
    void select_latest() {
        assertThat(VersionPolicy.parse("latest:2").select(List.of(1, 5, 3))).containsExactly(3, 5);
        assertThat(VersionPolicy.parse("latest:3").select(List.of(7))).containsExactly(7);
    }

    @Test
    void select_allAndSpecific() {
        assertThat(VersionPolicy.parse("all").select(List.of(2, 1))).containsExactly(1, 2);
        assertThat(VersionPolicy.parse("specific:1,3").select(List.of(1, 2, 4))).containsExactly(1);
    }

    @Test
    void parse_roundTripsAndRejects() {
        assertThat(VersionPolicy.parse("specific: 3 ,1").toString()).isEqualTo("specific:1,3");
        assertThat(VersionPolicy.parse(" latest:4 ").toString()).isEqualTo("latest:4");
        assertThatThrownBy(() -> VersionPolicy.parse("latest:0")).hasMessageContaining("N >= 1");
        assertThatThrownBy(() -> VersionPolicy.parse("latest:x")).hasMessageContaining("latest:N");
        assertThatThrownBy(() -> VersionPolicy.parse("some"))
                .hasMessageContaining("expected latest:N, all, or specific");
    }
}
