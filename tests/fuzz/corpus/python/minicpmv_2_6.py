# coding=utf-8
# Test fixture for MiniCPMPatches: a reduced, original stand-in for the
# modeling_minicpmv.py file of MiniCPM-V 2.6, written from a description of the
# real file's shape. Its chat() already returns a generator when stream is true,
# so the MiniCPM-o 4.5 patches must leave it alone. Nothing imports or runs it.
"""MiniCPM-V: images and text in, text out."""

import logging
from threading import Thread
from typing import List, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image
from transformers import AutoProcessor, PreTrainedModel, TextIteratorStreamer

from .configuration_minicpm import MiniCPMVConfig

logger = logging.getLogger(__name__)

# Default system prompt for Chinese conversations.
DEFAULT_SYSTEM_PROMPT_ZH = "你是一个乐于助人的视觉助手。请根据图片内容回答用户的问题。"


def pad_to_longest(sequences: List[torch.Tensor], padding_value: float = 0.0) -> torch.Tensor:
    max_len = max(seq.shape[0] for seq in sequences)
    # Each row gets 0 ≤ pad ≤ max_len - 1 extra entries along the first axis.
    padded = [F.pad(seq, (0, 0) * (seq.dim() - 1) + (0, max_len - seq.shape[0]), value=padding_value) for seq in sequences]
    return torch.stack(padded)


class Resampler(nn.Module):
    """Cross-attention pooler from a variable number of patch features to num_queries tokens."""

    def __init__(self, num_queries: int, embed_dim: int, num_heads: int, kv_dim: int):
        super().__init__()
        self.query = nn.Parameter(torch.zeros(num_queries, embed_dim))
        self.kv_proj = nn.Linear(kv_dim, embed_dim, bias=False)
        self.attn = nn.MultiheadAttention(embed_dim, num_heads, batch_first=True)
        self.ln_post = nn.LayerNorm(embed_dim)

    def forward(self, features: torch.Tensor, key_padding_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        kv = self.kv_proj(features)
        queries = self.query.unsqueeze(0).expand(features.shape[0], -1, -1)
        pooled, _ = self.attn(queries, kv, kv, key_padding_mask=key_padding_mask)
        return self.ln_post(pooled)


class MiniCPMVPreTrainedModel(PreTrainedModel):
    config_class = MiniCPMVConfig
    base_model_prefix = "llm"
    supports_gradient_checkpointing = True
    _no_split_modules = ["SiglipEncoderLayer", "Qwen2DecoderLayer"]


class MiniCPMV(MiniCPMVPreTrainedModel):
    def __init__(self, config):
        super().__init__(config)
        from transformers import AutoModelForCausalLM, SiglipVisionModel

        self.llm = AutoModelForCausalLM.from_config(config.text_config)
        self.vpm = SiglipVisionModel(config.vision_config)
        self.embed_dim = self.llm.config.hidden_size
        self.resampler = Resampler(config.query_num, self.embed_dim, self.embed_dim // 128, config.vision_config.hidden_size)
        self.processor = None
        self.terminators = ["<|im_end|>", "<|endoftext|>"]
        self.post_init()

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

        embeds = self.llm.get_input_embeddings()(data["input_ids"])
        for row, (states, bounds) in enumerate(zip(vision_hidden_states, data["image_bound"])):
            if len(states) == 0 or len(bounds) == 0:
                continue
            # Image spans → resampled features, query_num positions per span.
            positions = torch.cat([torch.arange(start, end) for start, end in bounds]).to(embeds.device)
            embeds[row].index_copy_(0, positions, states.reshape(-1, states.shape[-1]).to(embeds.dtype))
        return embeds, vision_hidden_states

    def _decode(self, inputs_embeds, tokenizer, attention_mask, **kwargs):
        terminators = [tokenizer.convert_tokens_to_ids(t) for t in self.terminators]
        return self.llm.generate(
            inputs_embeds=inputs_embeds,
            attention_mask=attention_mask,
            pad_token_id=0,
            eos_token_id=terminators,
            **kwargs,
        )

    def _decode_stream(self, inputs_embeds, tokenizer, **kwargs):
        terminators = [tokenizer.convert_tokens_to_ids(t) for t in self.terminators]
        streamer = TextIteratorStreamer(tokenizer=tokenizer)
        generation_kwargs = {
            "inputs_embeds": inputs_embeds,
            "pad_token_id": 0,
            "eos_token_id": terminators,
            "streamer": streamer,
        }
        generation_kwargs.update(kwargs)
        Thread(target=self.llm.generate, kwargs=generation_kwargs, daemon=True).start()
        return streamer

    def _decode_text(self, result_ids, tokenizer):
        terminators = {tokenizer.convert_tokens_to_ids(t) for t in self.terminators}
        texts = []
        for ids in result_ids:
            ids = [int(i) for i in ids]
            while ids and ids[-1] in terminators:
                ids.pop()
            texts.append(tokenizer.decode(ids).strip())
        return texts

    def generate(
        self,
        input_ids=None,
        pixel_values=None,
        tgt_sizes=None,
        image_bound=None,
        attention_mask=None,
        tokenizer=None,
        vision_hidden_states=None,
        stream=False,
        decode_text=False,
        **kwargs,
    ):
        """Return a TextIteratorStreamer when stream is true, else the decoded replies."""
        assert input_ids is not None, "input_ids is required"
        model_inputs = {
            "input_ids": input_ids,
            "pixel_values": pixel_values,
            "tgt_sizes": tgt_sizes,
            "image_bound": image_bound,
            "vision_hidden_states": vision_hidden_states,
        }

        with torch.inference_mode():
            inputs_embeds, vision_hidden_states = self.get_vllm_embedding(model_inputs)
            if stream:
                return self._decode_stream(inputs_embeds, tokenizer, **kwargs)
            result = self._decode(inputs_embeds, tokenizer, attention_mask, **kwargs)

        if decode_text:
            return self._decode_text(result, tokenizer)
        return result

    def chat(
        self,
        image,
        msgs,
        tokenizer,
        processor=None,
        vision_hidden_states=None,
        max_new_tokens=2048,
        min_new_tokens=0,
        sampling=True,
        max_inp_length=8192,
        system_prompt="",
        stream=False,
        max_slice_nums=None,
        use_image_id=None,
        **kwargs,
    ):
        """Run one conversation turn and return the reply, or a generator of text pieces when streaming."""
        if processor is None:
            if self.processor is None:
                self.processor = AutoProcessor.from_pretrained(self.config._name_or_path, trust_remote_code=True)
            processor = self.processor

        conversation = [dict(message) for message in msgs]
        assert len(conversation) > 0, "msgs must not be empty"
        if image is not None and isinstance(conversation[0]["content"], str):
            conversation[0]["content"] = [image, conversation[0]["content"]]

        images = []
        for message in conversation:
            contents = message["content"]
            if isinstance(contents, str):
                contents = [contents]
            text_items = []
            for item in contents:
                if isinstance(item, Image.Image):
                    images.append(item)
                    text_items.append("(<image>./</image>)")
                else:
                    text_items.append(item)
            message["content"] = "\n".join(text_items)
        conversation.insert(0, {"role": "system", "content": system_prompt or DEFAULT_SYSTEM_PROMPT_ZH})

        prompt = processor.tokenizer.apply_chat_template(conversation, tokenize=False, add_generation_prompt=True)
        inputs = processor(
            [prompt],
            [images],
            max_slice_nums=max_slice_nums,
            use_image_id=use_image_id,
            return_tensors="pt",
            max_length=max_inp_length,
        ).to(self.device)
        inputs.pop("image_sizes", None)

        if sampling:
            generation_config = {
                "top_p": 0.8,
                "top_k": 100,
                "temperature": 0.7,
                "do_sample": True,
                "repetition_penalty": 1.05,
            }
        else:
            generation_config = {
                "num_beams": 3,
                "repetition_penalty": 1.2,
            }
        if min_new_tokens > 0:
            generation_config["min_new_tokens"] = min_new_tokens
        generation_config.update((key, kwargs[key]) for key in generation_config.keys() & kwargs.keys())

        # With stream=True, res is a TextIteratorStreamer fed by a background thread.
        with torch.inference_mode():
            res = self.generate(
                **inputs,
                tokenizer=tokenizer,
                max_new_tokens=max_new_tokens,
                vision_hidden_states=vision_hidden_states,
                stream=stream,
                decode_text=True,
                **generation_config,
            )

        if stream:

            def stream_gen():
                for text in res:
                    for terminator in self.terminators:
                        text = text.replace(terminator, "")
                    yield text

            return stream_gen()

        return res[0]
