package io.cohort.api;

import io.cohort.backend.BackendKind;

/** Which backend a group asked for, which one it got, and why (e.g. the reason for a fallback). */
public record BackendChoice(BackendKind requested, BackendKind chosen, String reason) {
    @Override
    public String toString() {
        return requested == chosen
                ? chosen.cliName() + " (" + reason + ")"
                : chosen.cliName() + " (requested " + requested.cliName() + ": " + reason + ")";
    }
}
