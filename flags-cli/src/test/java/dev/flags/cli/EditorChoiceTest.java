package dev.flags.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;
import org.junit.jupiter.api.Test;

class EditorChoiceTest {

    @Test
    void theOptionThenVisualThenEditorThenViAtATerminal() {
        Map<String, String> both = Map.of("VISUAL", "code --wait", "EDITOR", "nano");
        assertThat(Edit.editorCommand("emacs -nw", both::get, true)).isEqualTo("emacs -nw");
        assertThat(Edit.editorCommand(null, both::get, false)).isEqualTo("code --wait");
        assertThat(Edit.editorCommand(" ", Map.of("VISUAL", "", "EDITOR", "nano ")::get, false)).as("blank is unset")
                .isEqualTo("nano");
        assertThat(Edit.editorCommand(null, Map.<String, String>of()::get, true)).isEqualTo("vi");
    }

    @Test
    void withNoneSetAndNoTerminalItIsBadUsageNotAViWaitingForever() {
        assertThatThrownBy(() -> Edit.editorCommand(null, Map.<String, String>of()::get, false))
                .isInstanceOfSatisfying(CliException.class, e -> {
                    assertThat(e.exitCode()).isEqualTo(FlagsCommand.EXIT_USAGE);
                    assertThat(e.getMessage()).isEqualTo("no editor: set VISUAL or EDITOR, or give --editor (flags show and"
                            + " flags put do the same without one)");
                });
    }
}
