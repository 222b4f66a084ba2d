package dev.trellis.common.text;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class DataSizeTextTest {
    @ParameterizedTest
    @CsvSource({"1000,1000", "512KiB,524288", "16MiB,16777216", "1GiB,1073741824", "4194304,4194304", "'7 B',7"})
    void parse_acceptsBytesAndBinaryUnits(String text, int bytes) {
        assertThat(DataSizeText.parse(text)).isEqualTo(bytes);
        assertThat(DataSizeText.parse(DataSizeText.format(bytes))).isEqualTo(bytes);
    }

    @ParameterizedTest
    @CsvSource({"0", "4GiB", "16MB", "-1", "lots", "1.5MiB"})
    void parse_refusesWhatIsNotAPositiveIntSize(String text) {
        assertThatThrownBy(() -> DataSizeText.parse(text))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("invalid size '" + text + "'");
    }
}
