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

impl Program {
    /// The gain of each of `inputs` microphones (0.0 or 1.0).
    pub fn audio_gains(&self, inputs: usize) -> Vec<f64> {
        (0..inputs)
            .map(|i| {
                let on = match self.audio {
                    ProgramAudio::Input(n) => i == n,
                    ProgramAudio::Follow => i == self.input,
                    ProgramAudio::Mix => true,
                };
                if on {
                    1.0
                } else {
                    0.0
                }
            })
            .collect()
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
        assert_eq!(ProgramAudio::Input(1).to_json(), serde_json::json!(1));
    }
}
