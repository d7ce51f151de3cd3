//! What a multi-camera channel puts on the air: which camera, which one in
//! the corner, and whose sound. Plain data (no GStreamer), so the rules are
//! tested without a pipeline; `media::pipeline` applies them to the
//! cameras' `compositor` and the microphones' `audiomixer`.

/// Whose sound is on the air.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgramAudio {
    /// Always input N's, whichever camera is on the air. A channel starts
    /// with 0: in a chamber the sound usually comes from the microphone
    /// system on the main source, whichever camera shows the speaker.
    Input(usize),
    /// The sound of the camera on the air (cut with the picture).
    Follow,
    /// Every input's sound, each at its own level (summed).
    Mix,
}

impl ProgramAudio {
    /// `"follow"`, `"mix"`, or the input's number.
    pub fn to_json(self) -> serde_json::Value {
        match self {
            ProgramAudio::Input(n) => serde_json::json!(n),
            ProgramAudio::Follow => serde_json::json!("follow"),
            ProgramAudio::Mix => serde_json::json!("mix"),
        }
    }
}

/// What a channel shows and sounds like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Program {
    /// The camera on the air (0: the channel's `source`).
    pub input: usize,
    /// A camera laid over it in a corner (picture in picture).
    pub pip: Option<usize>,
    pub audio: ProgramAudio,
}

impl Default for Program {
    /// Camera 0 with its own sound: what a channel shows at start.
    fn default() -> Self {
        Program {
            input: 0,
            pip: None,
            audio: ProgramAudio::Input(0),
        }
    }
}

/// What actually goes on the air: [`Program`] with a lost camera replaced
/// by the channel's backup source, when it has one that delivers.
#[derive(Debug, Clone, PartialEq)]
pub struct OnAir {
    /// The input shown full size (the backup's index when it stands in).
    pub input: usize,
    pub pip: Option<usize>,
    /// The gain of each input's sound (0.0 or 1.0), backup included.
    pub gains: Vec<f64>,
}

impl OnAir {
    /// Whether the backup (the last of `inputs`) stands in for a camera.
    pub fn backup_on_air(&self, inputs: usize, backup: bool) -> bool {
        backup && self.input + 1 == inputs
    }
}

impl Program {
    /// The gain of each of `inputs` microphones (0.0 or 1.0), without a
    /// backup source and with every input delivering.
    pub fn audio_gains(&self, inputs: usize) -> Vec<f64> {
        self.on_air(&vec![false; inputs], false).gains
    }

    /// What goes on the air when `lost[i]` says input i delivers nothing;
    /// with `backup`, the last input is the channel's backup source, which
    /// stands in for the camera on the air (picture) and for the sound
    /// chosen (one input's, or every camera's when all are lost) while
    /// they are lost and it is not. Never shown otherwise.
    pub fn on_air(&self, lost: &[bool], backup: bool) -> OnAir {
        let n = lost.len();
        let is_lost = |i: usize| lost.get(i).copied().unwrap_or(false);
        let cameras = if backup { n.saturating_sub(1) } else { n };
        let stand_in = (backup && n > 0 && !is_lost(n - 1)).then(|| n - 1);
        let replace = |i: usize| match stand_in {
            Some(b) if is_lost(i) => b,
            _ => i,
        };
        let input = replace(self.input);
        let pip = self.pip.filter(|&p| p != input);
        let mut on = vec![false; n];
        match self.audio {
            ProgramAudio::Input(k) => {
                if k < cameras {
                    on[replace(k)] = true;
                }
            }
            ProgramAudio::Follow => {
                if input < n {
                    on[input] = true;
                }
            }
            ProgramAudio::Mix => {
                let mut any = false;
                for (i, slot) in on.iter_mut().enumerate().take(cameras) {
                    if !is_lost(i) {
                        *slot = true;
                        any = true;
                    }
                }
                match (any, stand_in) {
                    (false, Some(b)) => on[b] = true,
                    // Nothing delivers: the cameras' silence.
                    (false, None) => on.iter_mut().take(cameras).for_each(|o| *o = true),
                    _ => {}
                }
            }
        }
        OnAir {
            input,
            pip,
            gains: on.into_iter().map(|o| if o { 1.0 } else { 0.0 }).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sound_is_one_inputs_the_camera_on_the_airs_or_all() {
        let p = |input, audio| Program {
            input,
            pip: None,
            audio,
        };
        assert_eq!(Program::default().audio_gains(2), [1.0, 0.0]);
        assert_eq!(p(1, ProgramAudio::Input(0)).audio_gains(2), [1.0, 0.0]);
        assert_eq!(p(0, ProgramAudio::Input(2)).audio_gains(3), [0.0, 0.0, 1.0]);
        assert_eq!(p(1, ProgramAudio::Follow).audio_gains(3), [0.0, 1.0, 0.0]);
        assert_eq!(p(2, ProgramAudio::Mix).audio_gains(3), [1.0, 1.0, 1.0]);
        // An input that does not exist silences nothing it should not.
        assert_eq!(p(0, ProgramAudio::Input(5)).audio_gains(2), [0.0, 0.0]);
        assert_eq!(ProgramAudio::Follow.to_json(), serde_json::json!("follow"));
        assert_eq!(Program::default().audio_gains(1), [1.0]);
        assert_eq!(ProgramAudio::Input(1).to_json(), serde_json::json!(1));
    }

    #[test]
    fn the_backup_stands_in_for_a_lost_camera_only_while_it_delivers() {
        let p = |input, pip, audio| Program { input, pip, audio };
        let on = |input, pip: Option<usize>, gains: &[f64]| OnAir {
            input,
            pip,
            gains: gains.to_vec(),
        };
        // One camera (0) and the backup (1).
        let main = Program::default();
        assert_eq!(main.on_air(&[false, false], true), on(0, None, &[1.0, 0.0]));
        assert_eq!(main.on_air(&[true, false], true), on(1, None, &[0.0, 1.0]));
        assert!(main.on_air(&[true, false], true).backup_on_air(2, true));
        assert!(!main.on_air(&[false, false], true).backup_on_air(2, true));
        // Both lost: camera 0 and its slate.
        assert_eq!(main.on_air(&[true, true], true), on(0, None, &[1.0, 0.0]));
        // Without a backup, a lost camera stays (its slate is on the air).
        assert_eq!(main.on_air(&[true, false], false), on(0, None, &[1.0, 0.0]));

        // Two cameras and the backup (2): camera 1 on the air, 0 in the
        // corner, camera 0's sound.
        let two = p(1, Some(0), ProgramAudio::Input(0));
        assert_eq!(
            two.on_air(&[false, false, false], true),
            on(1, Some(0), &[1.0, 0.0, 0.0])
        );
        // Camera 1 lost: the backup shows, camera 0 stays in the corner
        // and its sound on the air.
        assert_eq!(
            two.on_air(&[false, true, false], true),
            on(2, Some(0), &[1.0, 0.0, 0.0])
        );
        // Camera 0 lost: the backup's sound; the corner shows 0's slate.
        assert_eq!(
            two.on_air(&[true, false, false], true),
            on(1, Some(0), &[0.0, 0.0, 1.0])
        );
        // Following the picture follows the backup too.
        let follow = p(1, None, ProgramAudio::Follow);
        assert_eq!(
            follow.on_air(&[false, true, false], true),
            on(2, None, &[0.0, 0.0, 1.0])
        );
        // A mix: the cameras that deliver, never the backup while one does.
        let mix = p(0, None, ProgramAudio::Mix);
        assert_eq!(
            mix.on_air(&[false, false, false], true),
            on(0, None, &[1.0, 1.0, 0.0])
        );
        assert_eq!(
            mix.on_air(&[true, false, false], true),
            on(2, None, &[0.0, 1.0, 0.0])
        );
        assert_eq!(
            mix.on_air(&[true, true, false], true),
            on(2, None, &[0.0, 0.0, 1.0])
        );
        assert_eq!(mix.on_air(&[true, true], false), on(0, None, &[1.0, 1.0]));
    }
}
