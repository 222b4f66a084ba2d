package dev.trellis.common.control;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class ModelControlTest {
    @Test
    void heldVersionsConfig_sortedDistinctTritonVersionPolicy() {
        assertThat(ModelControl.heldVersionsConfig(List.of(3, 1, 3)))
                .isEqualTo("{\"version_policy\":{\"specific\":{\"versions\":[1,3]}}}");
        assertThat(ModelControl.heldVersionsConfig(List.of()))
                .isEqualTo("{\"version_policy\":{\"specific\":{\"versions\":[]}}}");
    }

    @Test
    void isHeld_onlyWhenTheReasonSaysSo() {
        assertThat(ModelControl.isHeld("held by the control plane; version policy latest:2"))
                .isTrue();
        assertThat(ModelControl.isHeld("version policy latest:2")).isFalse();
        assertThat(ModelControl.isHeld(null)).isFalse();
    }
}
