class MiniCPMO:
    def chat(self, stream=False, **kwargs):
        generation_config = self.prepare_generation_config(**kwargs)
        with torch.inference_mode():
            res, outputs = self.generate(
                stream=stream,
                **generation_config,
            )
        return outputs.sequences[0]
