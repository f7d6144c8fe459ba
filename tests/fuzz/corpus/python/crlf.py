# coding=utf-8
# Test fixture for MiniCPMPatches: a reduced, original stand-in for the
# modeling_minicpmo.py file of MiniCPM-o 4.5, written from a description of the
# real file's shape. The patcher reads it as text, and nothing imports or runs it.
"""MiniCPM-o: images, speech and text in, text and speech out."""

import logging
import os
import wave
from dataclasses import dataclass
from threading import Thread
from typing import List, Optional

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image
from transformers import AutoProcessor, PreTrainedModel, TextIteratorStreamer
from transformers.modeling_outputs import ModelOutput

from .configuration_minicpm import MiniCPMOConfig

logger = logging.getLogger(__name__)

# Default system prompt for Chinese conversations.
DEFAULT_SYSTEM_PROMPT_ZH = "你是一个乐于助人的多模态助手。请仔细查看用户提供的图片和音频，用简洁、准确的语言回答问题。"
DEFAULT_SYSTEM_PROMPT_EN = "You are a helpful multimodal assistant. Answer briefly and accurately."
# Appended to the system prompt when the reply is spoken in the reference voice.
VOICE_CLONE_PROMPT_ZH = "请模仿参考音频中的音色，用自然的语气朗读你的回答。"

AUDIO_SAMPLE_RATE = 16000
TTS_SAMPLE_RATE = 24000
SPEECH_TOKENS_PER_SECOND = 25
# Local copy of the model on the Windows workstation that edited this file.
LOCAL_MODEL_DIR = "C:\\models\\MiniCPM-o-4_5"


@dataclass
class OmniOutput(ModelOutput):
    """Reply of chat() when return_dict is true."""

    text: Optional[str] = None
    spk_embeds: Optional[torch.Tensor] = None
    audio_wav: Optional[np.ndarray] = None
    sampling_rate: Optional[int] = None


def is_sentence_end(text: str) -> bool:
    """Return True when text ends with sentence punctuation, Latin or CJK."""
    return text.rstrip().endswith((".", "!", "?", "。", "！", "？", "…"))


def build_position_ids(attention_mask: torch.Tensor) -> torch.Tensor:
    # Left padding shifts each row, so positions restart at the first real token:
    # the n unmasked tokens of a row get positions p ∈ [0, n).
    position_ids = attention_mask.long().cumsum(-1) - 1
    position_ids.masked_fill_(attention_mask == 0, 1)
    return position_ids


def pad_to_longest(sequences: List[torch.Tensor], padding_value: float = 0.0, left: bool = False) -> torch.Tensor:
    max_len = max(seq.shape[0] for seq in sequences)
    padded = []
    for seq in sequences:
        # Each row gets 0 ≤ pad ≤ max_len - 1 extra entries along the first axis.
        pad = max_len - seq.shape[0]
        spec = (0, 0) * (seq.dim() - 1) + ((pad, 0) if left else (0, pad))
        padded.append(F.pad(seq, spec, value=padding_value))
    return torch.stack(padded)


def save_wav(path: str, waveform: np.ndarray, sample_rate: int = TTS_SAMPLE_RATE) -> None:
    # Float samples in [-1, 1] → 16-bit mono PCM.
    pcm = (np.clip(waveform, -1.0, 1.0) * 32767).astype(np.int16)
    with wave.open(path, "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(sample_rate)
        handle.writeframes(pcm.tobytes())


class Resampler(nn.Module):
    """Cross-attention pooler from a variable number of patch features to num_queries tokens."""

    def __init__(self, num_queries: int, embed_dim: int, num_heads: int, kv_dim: int):
        super().__init__()
        self.num_queries = num_queries
        self.query = nn.Parameter(torch.zeros(num_queries, embed_dim))
        self.kv_proj = nn.Linear(kv_dim, embed_dim, bias=False)
        self.attn = nn.MultiheadAttention(embed_dim, num_heads, batch_first=True)
        self.ln_q = nn.LayerNorm(embed_dim)
        self.ln_kv = nn.LayerNorm(embed_dim)
        self.ln_post = nn.LayerNorm(embed_dim)

    def forward(self, features: torch.Tensor, key_padding_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        kv = self.ln_kv(self.kv_proj(features))
        queries = self.ln_q(self.query).unsqueeze(0).expand(features.shape[0], -1, -1)
        pooled, _ = self.attn(queries, kv, kv, key_padding_mask=key_padding_mask)
        return self.ln_post(pooled)


class AudioProjection(nn.Module):
    """Two-layer MLP from the audio encoder width to the language model width."""

    def __init__(self, in_dim: int, out_dim: int):
        super().__init__()
        self.linear1 = nn.Linear(in_dim, out_dim)
        self.act = nn.ReLU()
        self.linear2 = nn.Linear(out_dim, out_dim)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.linear2(self.act(self.linear1(hidden)))


class MiniCPMOPreTrainedModel(PreTrainedModel):
    config_class = MiniCPMOConfig
    base_model_prefix = "llm"
    supports_gradient_checkpointing = True
    _no_split_modules = ["SiglipEncoderLayer", "Qwen3DecoderLayer"]
    _supports_flash_attn_2 = True
    _supports_sdpa = True


class MiniCPMO(MiniCPMOPreTrainedModel):
    def __init__(self, config):
        super().__init__(config)
        self.llm = self.init_llm(config)
        self.embed_dim = self.llm.config.hidden_size

        self.vpm = None
        self.resampler = None
        if config.init_vision:
            self.vpm = self.init_vision_module(config)
            self.resampler = Resampler(config.query_num, self.embed_dim, self.embed_dim // 128, self.vpm.embed_dim)

        self.apm = None
        if config.init_audio:
            self.apm = self.init_audio_module(config)
            audio_output_dim = int(self.apm.config.encoder_ffn_dim // 4)
            self.audio_avg_pooler = nn.AvgPool1d(config.audio_pool_step, stride=config.audio_pool_step)
            self.audio_projection_layer = AudioProjection(audio_output_dim, self.embed_dim)
            self.audio_encoder_layer = -1

        self.tts = self.init_tts_module(config) if config.init_tts else None
        self.processor = None
        self.terminators = ["<|im_end|>", "<|endoftext|>", "<|tts_eos|>"]
        self.post_init()

    def init_llm(self, config):
        from transformers import AutoModelForCausalLM

        return AutoModelForCausalLM.from_config(config.text_config)

    def init_vision_module(self, config):
        from transformers import SiglipVisionModel

        model = SiglipVisionModel(config.vision_config)
        model.embed_dim = config.vision_config.hidden_size
        if config.drop_vision_last_layer:
            model.vision_model.encoder.layers = model.vision_model.encoder.layers[:-1]
        return model

    def init_audio_module(self, config):
        from transformers import WhisperModel

        return WhisperModel(config.audio_config).encoder

    def init_tts_module(self, config):
        from .modeling_tts import ConditionalTTS

        return ConditionalTTS(config.tts_config)

    def get_input_embeddings(self):
        return self.llm.get_input_embeddings()

    def get_vllm_embedding(self, data):
        """Embed input_ids and write the resampled image features into the image spans."""
        vision_hidden_states = data.get("vision_hidden_states")
        if vision_hidden_states is None:
            vision_hidden_states = []
            for pixel_values, tgt_sizes in zip(data["pixel_values"], data["tgt_sizes"]):
                if len(pixel_values) == 0:
                    vision_hidden_states.append([])
                    continue
                patches = pad_to_longest([p.flatten(end_dim=1).permute(1, 0) for p in pixel_values])
                features = self.vpm(patches, tgt_sizes=tgt_sizes).last_hidden_state
                vision_hidden_states.append(self.resampler(features))

        embeds = self.get_input_embeddings()(data["input_ids"])
        for row, (states, bounds) in enumerate(zip(vision_hidden_states, data["image_bound"])):
            if len(states) == 0 or len(bounds) == 0:
                continue
            # Each bound (start, end) covers end - start ≤ query_num positions.
            positions = torch.cat([torch.arange(start, end) for start, end in bounds]).to(embeds.device)
            embeds[row].index_copy_(0, positions, states.reshape(-1, states.shape[-1]).to(embeds.dtype))
        return embeds, vision_hidden_states

    def get_audio_embedding(self, data):
        """Encode the 16 kHz log-mel features and pool them to the audio token rate."""
        features = data.get("audio_features")
        if features is None or len(features) == 0:
            return []
        hidden = self.apm(features, output_hidden_states=True).hidden_states[self.audio_encoder_layer]
        # Encoder frames at 50 Hz → audio tokens at 50 / audio_pool_step Hz.
        hidden = self.audio_avg_pooler(hidden.transpose(1, 2)).transpose(1, 2)
        embeds = self.audio_projection_layer(hidden)
        lengths = (data["audio_feature_lens"] - 1) // 2 + 1
        lengths = (lengths - self.config.audio_pool_step) // self.config.audio_pool_step + 1
        return [embeds[i, : int(n)] for i, n in enumerate(lengths)]

    def get_omni_embedding(self, data, input_embeds):
        audio_embeddings = self.get_audio_embedding(data)
        for row, bounds in enumerate(data.get("audio_bounds", [])):
            for (start, end), audio in zip(bounds, audio_embeddings):
                input_embeds[row, start:end] = audio[: end - start].to(input_embeds.dtype)
        return input_embeds

    def _decode(self, inputs_embeds, tokenizer, attention_mask, **kwargs):
        terminators = [tokenizer.convert_tokens_to_ids(t) for t in self.terminators]
        return self.llm.generate(
            inputs_embeds=inputs_embeds,
            attention_mask=attention_mask,
            pad_token_id=0,
            eos_token_id=terminators,
            output_hidden_states=True,
            return_dict_in_generate=True,
            **kwargs,
        )

    def _decode_stream(self, inputs_embeds, tokenizer, **kwargs):
        terminators = [tokenizer.convert_tokens_to_ids(t) for t in self.terminators]
        streamer = TextIteratorStreamer(tokenizer=tokenizer, skip_prompt=True, skip_special_tokens=True)
        generation_kwargs = {
            "inputs_embeds": inputs_embeds,
            "pad_token_id": 0,
            "eos_token_id": terminators,
            "streamer": streamer,
        }
        generation_kwargs.update(kwargs)
        thread = Thread(target=self.llm.generate, kwargs=generation_kwargs, daemon=True)
        thread.start()
        return streamer

    def _decode_text(self, result_ids, tokenizer):
        terminators = {tokenizer.convert_tokens_to_ids(t) for t in self.terminators}
        texts = []
        for ids in result_ids:
            ids = [int(i) for i in ids]
            while ids and ids[-1] in terminators:
                ids.pop()
            texts.append(tokenizer.decode(ids, skip_special_tokens=True).strip())
        return texts

    @staticmethod
    def prepare_generation_config(do_sample, max_new_tokens, min_new_tokens=0, **kwargs):
        """Build the keyword arguments for the language model's generate()."""
        if min_new_tokens > max_new_tokens:
            raise ValueError(f"min_new_tokens ({min_new_tokens}) exceeds max_new_tokens ({max_new_tokens})")
        num_beams = kwargs.get("num_beams", 3)
        if do_sample:
            generation_config = {
                "top_p": 0.8,
                "top_k": 100,
                "temperature": 0.7,
                "do_sample": True,
                "repetition_penalty": 1.05,
            }
        else:
            generation_config = {
                "num_beams": num_beams,
                "do_sample": False,
                "repetition_penalty": 1.2,
            }
        generation_config["min_new_tokens"] = min_new_tokens
        generation_config.update((key, kwargs[key]) for key in generation_config.keys() & kwargs.keys())
        generation_config.setdefault("num_beams", num_beams)
        return generation_config

    def generate(
        self,
        input_ids=None,
        pixel_values=None,
        tgt_sizes=None,
        audio_features=None,
        audio_feature_lens=None,
        image_bound=None,
        audio_bounds=None,
        spk_bounds=None,
        attention_mask=None,
        tokenizer=None,
        vision_hidden_states=None,
        stream=False,
        **kwargs,
    ):
        """Generate a reply and return (result, outputs).

        With stream=True, result is a TextIteratorStreamer fed by a background thread and
        outputs is an empty dict. Otherwise result is the list of decoded replies and
        outputs is the language model's generate() output.
        """
        assert input_ids is not None, "input_ids is required"
        model_inputs = {
            "input_ids": input_ids,
            "pixel_values": pixel_values,
            "tgt_sizes": tgt_sizes,
            "image_bound": image_bound,
            "audio_features": audio_features,
            "audio_feature_lens": audio_feature_lens,
            "audio_bounds": audio_bounds,
            "spk_bounds": spk_bounds,
            "vision_hidden_states": vision_hidden_states,
        }

        with torch.inference_mode():
            inputs_embeds, vision_hidden_states = self.get_vllm_embedding(model_inputs)
            inputs_embeds = self.get_omni_embedding(model_inputs, inputs_embeds)
            if stream:
                result = self._decode_stream(inputs_embeds, tokenizer, **kwargs)
                outputs = {}
            else:
                outputs = self._decode(inputs_embeds, tokenizer, attention_mask, **kwargs)
                result = self._decode_text(outputs.sequences, tokenizer)

        return result, outputs

    @torch.inference_mode()
    def chat(
        self,
        image=None,
        msgs=None,
        tokenizer=None,
        processor=None,
        vision_hidden_states=None,
        max_new_tokens=2048,
        min_new_tokens=0,
        sampling=True,
        max_inp_length=32768,
        stream=False,
        chunk_input=True,
        omni_input=False,
        max_slice_nums=None,
        use_image_id=None,
        use_tts_template=False,
        generate_audio=False,
        return_spk_embed=False,
        return_dict=False,
        output_audio_path=None,
        ref_audio=None,
        voice_prompt=None,
        enable_thinking=False,
        batched=False,
        **kwargs,
    ):
        """Run one conversation turn, or a batch of turns when batched is true.

        msgs is a list of {"role": ..., "content": ...} dicts. A content item may be a
        string, a PIL image or a 16 kHz mono float array. Returns the reply text, or an
        OmniOutput with the text and the waveform when return_dict is true.
        """
        batch_msgs = msgs if batched else [msgs]
        if image is not None and not batched:
            # Older callers pass the image as its own argument, so it is put first in the first message.
            first = batch_msgs[0][0]
            contents = first["content"] if isinstance(first["content"], list) else [first["content"]]
            first["content"] = [image] + contents

        if processor is None:
            if self.processor is None:
                self.processor = AutoProcessor.from_pretrained(self.config._name_or_path, trust_remote_code=True)
            processor = self.processor

        prompts, images, audios, audio_parts = [], [], [], []
        for conversation in batch_msgs:
            assert len(conversation) > 0, "msgs must not be empty"
            conversation = [dict(message) for message in conversation]
            if conversation[0]["role"] != "system":
                if getattr(self.config, "default_language", "zh") == "zh":
                    system_prompt = DEFAULT_SYSTEM_PROMPT_ZH
                else:
                    system_prompt = DEFAULT_SYSTEM_PROMPT_EN
                conversation.insert(0, {"role": "system", "content": system_prompt})
            if use_tts_template and generate_audio and voice_prompt is None:
                conversation[0]["content"] = conversation[0]["content"] + "\n" + VOICE_CLONE_PROMPT_ZH

            image_list, audio_list, part_list = [], [], []
            for message in conversation:
                contents = message["content"]
                if isinstance(contents, str):
                    contents = [contents]
                text_items = []
                for item in contents:
                    if isinstance(item, Image.Image):
                        image_list.append(item)
                        text_items.append("(<image>./</image>)")
                    elif isinstance(item, np.ndarray):
                        audio_list.append(item)
                        part_list.append(0 if omni_input else len(part_list))
                        text_items.append("(<audio>./</audio>)")
                    elif isinstance(item, str):
                        text_items.append(item)
                    else:
                        raise TypeError(f"unsupported content item of type {type(item).__name__}")
                message["content"] = "\n".join(text_items)

            prompts.append(
                processor.tokenizer.apply_chat_template(
                    conversation,
                    tokenize=False,
                    add_generation_prompt=True,
                    use_tts_template=use_tts_template,
                    enable_thinking=enable_thinking,
                )
            )
            images.append(image_list)
            audios.append(audio_list)
            audio_parts.append(part_list)

        inputs = processor(
            prompts,
            images,
            audios,
            audio_parts,
            max_slice_nums=max_slice_nums,
            use_image_id=use_image_id,
            chunk_input=chunk_input,
            return_tensors="pt",
            max_length=max_inp_length,
        ).to(self.device)
        inputs.pop("image_sizes", None)

        generation_config = self.prepare_generation_config(
            do_sample=sampling, max_new_tokens=max_new_tokens, min_new_tokens=min_new_tokens, **kwargs
        )

        # With return_spk_embed only the prompt's speaker span is needed, so one new token is enough.
        with torch.inference_mode():
            res, outputs = self.generate(
                **inputs,
                tokenizer=tokenizer,
                max_new_tokens=1 if use_tts_template and return_spk_embed else max_new_tokens,
                vision_hidden_states=vision_hidden_states,
                stream=stream,
                **generation_config,
            )

        # Find the speaker and TTS spans in the generated ids.
        tts_bos_id = tokenizer.convert_tokens_to_ids("<|tts_bos|>")
        tts_eos_id = tokenizer.convert_tokens_to_ids("<|tts_eos|>")
        spk_bos_id = tokenizer.convert_tokens_to_ids("<|spk_bos|>")
        spk_eos_id = tokenizer.convert_tokens_to_ids("<|spk_eos|>")
        end_ids = {tts_eos_id, tokenizer.eos_token_id}
        generated_ids = outputs.sequences[0]
        spk_start = (generated_ids == spk_bos_id).nonzero(as_tuple=True)[0]
        spk_end = (generated_ids == spk_eos_id).nonzero(as_tuple=True)[0]

        spk_embeds = None
        if return_spk_embed and len(spk_start) > 0 and len(spk_end) > 0:
            # Positions i with spk_start < i < spk_end hold the speaker embedding.
            last_hidden = torch.cat([step[-1] for step in outputs.hidden_states], dim=1)[0]
            spk_embeds = last_hidden[int(spk_start[0]) + 1 : int(spk_end[0])]

        answer = res if batched else res[0]
        if not (use_tts_template and generate_audio):
            if return_dict:
                return OmniOutput(text=answer, spk_embeds=spk_embeds)
            return answer

        token_list = generated_ids.tolist()
        text_for_tts = answer
        if tts_bos_id in token_list:
            start = token_list.index(tts_bos_id) + 1
            end = next((i for i in range(start, len(token_list)) if token_list[i] in end_ids), len(token_list))
            text_for_tts = tokenizer.decode(token_list[start:end], skip_special_tokens=True)

        waveform = self._generate_speech(text_for_tts, ref_audio=ref_audio, spk_embeds=spk_embeds)
        if output_audio_path:
            save_wav(output_audio_path, waveform, TTS_SAMPLE_RATE)
            logger.info("Wrote %.2f s of speech to %s", len(waveform) / TTS_SAMPLE_RATE, output_audio_path)
        if return_dict:
            return OmniOutput(text=answer, spk_embeds=spk_embeds, audio_wav=waveform, sampling_rate=TTS_SAMPLE_RATE)
        return answer

    def streaming_generate(self, msgs, tokenizer, processor=None, max_new_tokens=1024, sampling=True, **kwargs):
        """Yield the reply one sentence at a time."""
        processor = processor or self.processor
        if processor is None:
            raise ValueError("processor is missing. Pass the model's AutoProcessor on the first call.")
        prompt = processor.tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
        inputs = processor([prompt], [[]], [[]], [[]], return_tensors="pt").to(self.device)
        inputs.pop("image_sizes", None)

        # transformers raises ValueError for a streamer combined with more than one beam.
        kwargs.setdefault("num_beams", 1)
        generation_config = self.prepare_generation_config(
            do_sample=sampling, max_new_tokens=max_new_tokens, **kwargs
        )
        streamer, _ = self.generate(
            **inputs,
            tokenizer=tokenizer,
            max_new_tokens=max_new_tokens,
            stream=True,
            **generation_config,
        )

        sentence = ""
        for piece in streamer:
            sentence += piece
            if is_sentence_end(sentence):
                yield sentence
                sentence = ""
        if sentence:
            yield sentence

    def _generate_speech(self, text, ref_audio=None, spk_embeds=None, max_seconds=60.0):
        """Synthesize text with the TTS head and the token2wav vocoder under assets/token2wav."""
        if self.tts is None:
            raise RuntimeError("TTS is disabled in this checkpoint because config.init_tts is false")
        token2wav_dir = os.path.join(self.config._name_or_path, "assets", "token2wav")
        if not os.path.isdir(token2wav_dir):
            raise FileNotFoundError(f"{token2wav_dir} not found. Copy assets/ from the BF16 model folder.")
        if ref_audio is None and spk_embeds is None:
            logger.warning("No reference audio or speaker embedding given, so the default voice is used")
        speech_tokens = self.tts.generate(text=text, spk_embeds=spk_embeds, ref_audio=ref_audio)
        # 25 speech tokens per second → at most max_seconds * 25 tokens.
        speech_tokens = speech_tokens[: int(max_seconds * SPEECH_TOKENS_PER_SECOND)]
        return self.tts.token2wav(speech_tokens, model_dir=token2wav_dir, sample_rate=TTS_SAMPLE_RATE)
